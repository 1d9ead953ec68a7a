"""One handler for every model-calling surface, and the small ones around it.

Handlers return plain data (a dict, or an async iterator of SSE bytes); the HTTP
entrypoint turns that into a response. Errors are ``GatewayError``s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from schemas.money import format_usd

from ..domain.catalog import Model
from ..domain.protocols.anthropic.request import anthropic_to_ours
from ..domain.protocols.openai_chat.request import ours_to_chat
from ..domain.protocols.surfaces import Parsed, Surface, parse_count_tokens
from ..domain.standing import Principal, check_not_suspended
from ..domain.usage import count_chat_prompt
from ..errors import BadRequest, ModelNotFound, UsageUnavailable
from .admission import admit
from .call import Call
from .context import Deps
from .exchange import Exchange
from .ports import Rejected, Retryable, UpstreamRequest
from .proxy import Answered, complete, open_stream, relay

__all__ = [
    "Answered",
    "Routing",
    "balance",
    "call_model",
    "count_tokens",
    "model_info",
    "models",
    "usage",
]


@dataclass(frozen=True)
class Routing:
    """Per-request routing hints and forwarded headers."""

    preference: str = "balanced"
    zdr_required: bool = False
    #: Anthropic's version and beta headers, checked, for an Anthropic upstream.
    forwarded: tuple[tuple[str, str], ...] = ()
    #: When the request arrived (``time.monotonic``, as the deps' clock in production): the
    #: gateway's own time before the upstream call is measured from it.
    arrived: float | None = None


def _preference(parsed: Parsed, routing: Routing) -> str:
    chosen = parsed.body.get("router_preference")
    if chosen is None:
        return routing.preference
    if not isinstance(chosen, str):
        raise BadRequest("router_preference must be a string.", param="router_preference")
    return chosen


def output_cap(surface: Surface, parsed: Parsed, model: Model) -> int:
    """The client's output cap, lowered to the model's (or refused, for a strict model)."""
    cap, asked = model.max_output_tokens, parsed.requested_cap
    if asked is None:
        return min(surface.default_cap or cap, cap)
    if asked > cap:
        if model.strict_max_tokens:
            raise surface.too_many_tokens(parsed, cap, model.id)
        return cap
    return asked


async def call_model(
    deps: Deps,
    principal: Principal,
    request_id: str,
    routing: Routing,
    body: dict[str, Any],
    surface: Surface,
) -> Answered | AsyncIterator[bytes]:
    parsed = surface.parse(body)
    candidates = deps.catalog.route(
        parsed.model, _preference(parsed, routing), routing.zdr_required
    )
    cap = output_cap(surface, parsed, candidates[0][0])
    public_model = parsed.model or deps.catalog.default_model or candidates[0][0].id
    principal.check_model(public_model, candidates[0][0].id)
    exchange = Exchange(surface, parsed, public_model, cap, routing.forwarded)
    servable = exchange.servable(candidates)
    admitted = admit(
        deps,
        principal,
        candidates=servable,
        stream=parsed.stream,
        uses_tools=parsed.uses_tools,
        output_cap=exchange.held_cap(servable),
        choices=parsed.choices,
        prompt_estimate=parsed.prompt_estimate,
    )
    call = Call(deps, request_id, surface.name, admitted, parsed.stream, public_model)
    if routing.arrived is not None:
        deps.metrics.overhead(surface.name, call.t0 - routing.arrived)
    if parsed.stream:
        upstream = await open_stream(call, exchange)
        return relay(call, exchange, upstream)
    return await complete(call, exchange)


async def count_tokens(
    deps: Deps, principal: Principal, request_id: str, routing: Routing, body: dict[str, Any]
) -> dict[str, Any]:
    """Anthropic's token counting: the input tokens a Messages request would send.

    Asked of the upstream when the model's first deployment is an Anthropic one; else
    counted here with the tokenizer (the other kinds have no counting endpoint). Free: it
    writes no events and needs no balance, only a key of an account that is not suspended.
    """
    req = parse_count_tokens(body)
    model, deployment = deps.catalog.route(req.model, routing.preference, routing.zdr_required)[0]
    check_not_suspended(deps.accounts.get(principal.account_id))
    if deployment.kind == "anthropic":
        forwarded = {**body, "model": deployment.upstream_model}
        forwarded.pop("router_preference", None)
        request = UpstreamRequest("/messages/count_tokens", forwarded, routing.forwarded)
        try:
            counted = await deps.upstream.complete(deployment, request)
            if isinstance(counted.get("input_tokens"), int):
                return {"input_tokens": counted["input_tokens"]}
        except Retryable:
            pass  # the upstream cannot count now: count here
        except Rejected as exc:
            error = BadRequest(exc.message, param=exc.param)
            error.status = exc.status
            raise error from None
    chat = ours_to_chat(anthropic_to_ours(req, None), model.id, False)
    # Off the event loop: the tokenizer loads on first use (~2 s) and a long prompt takes
    # tens of milliseconds.
    counted_here = await asyncio.to_thread(
        count_chat_prompt, chat["messages"], chat.get("tools") or []
    )
    return {"input_tokens": counted_here}


def _model_entry(model: Model, model_id: str) -> dict[str, Any]:
    p = model.prices
    return {
        "id": model_id,
        "object": "model",
        "created": 0,
        "owned_by": model.owned_by,
        "max_output_tokens": model.max_output_tokens,
        "context_window": model.context_window,
        "capabilities": {
            "streaming": model.streaming,
            "tools": model.tools,
            "reasoning": model.reasoning,
            "zero_data_retention": any(d.zdr for d in model.deployments),
        },
        "pricing": {
            "currency": "USD",
            "per": "1M tokens",
            "input": format_usd(p.input),
            "output": format_usd(p.output),
            "cache_read": format_usd(p.cache_read),
            "cache_write": format_usd(p.cache_write),
        },
    }


def models(deps: Deps) -> dict[str, Any]:
    data = []
    for model in deps.catalog.listing():
        data.append(_model_entry(model, model.id))
        data.extend(_model_entry(model, alias) | {"alias_of": model.id} for alias in model.aliases)
    for group, members in deps.catalog.groups.items():
        first = deps.catalog.models[members[0]]
        data.append(_model_entry(first, group) | {"group_of": list(members), "pricing": None})
    return {"object": "list", "data": data}


def model_info(deps: Deps, model_id: str) -> dict[str, Any]:
    for entry in models(deps)["data"]:
        if entry["id"] == model_id:
            return dict(entry)
    raise ModelNotFound(f"The model `{model_id}` does not exist.", param="model")


async def usage(deps: Deps, principal: Principal, period: dict[str, str]) -> dict[str, Any]:
    """The caller's own account's usage by day and model; ``period`` holds from/to if given."""
    if deps.reports is None:
        raise UsageUnavailable("Usage reports are not configured on this gateway.")
    report = await deps.reports.usage(principal.account_id, period)
    return {"object": "usage"} | report


def balance(deps: Deps, principal: Principal) -> dict[str, Any]:
    status = deps.accounts.get(principal.account_id)
    if status is None:
        return {
            "object": "balance",
            "account_id": principal.account_id,
            "status": "unknown",
            "currency": "USD",
            "balance": format_usd(0),
            "held": format_usd(0),
            "available": format_usd(0),
            "balance_nano": 0,
            "held_nano": 0,
            "available_nano": 0,
            "as_of": None,
        }
    return {
        "object": "balance",
        "account_id": status.account_id,
        "status": status.status,
        "currency": "USD",
        "balance": format_usd(status.balance_nano),
        "held": format_usd(status.held_nano),
        "available": format_usd(status.available_nano),
        "balance_nano": status.balance_nano,
        "held_nano": status.held_nano,
        "available_nano": status.available_nano,
        "month_tokens": status.month_tokens,
        "monthly_token_quota": status.monthly_token_quota,
        "as_of": status.occurred_at.isoformat(),
        "served_at": time.time(),
    }
