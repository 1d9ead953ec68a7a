"""One handler per surface: validate, admit, call, shape the answer.

Handlers return plain data (a dict, or an async iterator of SSE bytes); the
HTTP entrypoint turns that into a response. Errors are ``GatewayError``s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from schemas.events import Surface
from schemas.money import format_usd

from ..domain.admission import Principal, check_not_suspended
from ..domain.anthropic import anthropic_input, anthropic_to_openai, openai_to_anthropic
from ..domain.catalog import Model
from ..domain.params import (
    ChatRequest,
    CompletionRequest,
    CountTokensRequest,
    MessagesRequest,
    validate,
)
from ..domain.usage import count_chat_prompt, estimate_chat_prompt, estimate_text_prompt
from ..errors import ModelNotFound, UsageUnavailable
from .admission import admit
from .call import Call
from .context import Deps
from .proxy import complete, open_stream, relay
from .renderers import AnthropicRenderer, OpenAIRenderer

__all__ = [
    "Routing",
    "balance",
    "chat",
    "completions",
    "count_tokens",
    "messages",
    "model_info",
    "models",
    "usage",
]


@dataclass(frozen=True)
class Routing:
    """Per-request routing hints from headers."""

    preference: str = "balanced"
    zdr_required: bool = False


async def chat(
    deps: Deps, principal: Principal, request_id: str, routing: Routing, body: dict[str, Any]
) -> dict[str, Any] | AsyncIterator[bytes]:
    req = validate(ChatRequest, body)
    estimate = estimate_chat_prompt(body["messages"], body.get("tools"))
    call = _call(
        deps,
        principal,
        request_id,
        routing,
        body,
        "openai.chat",
        req.model,
        bool(req.stream),
        bool(req.tools),
        req.output_cap,
        estimate,
    )
    return await _openai(
        call,
        "/chat/completions",
        body,
        req.model,
        bool(req.stream_options and req.stream_options.include_usage),
    )


async def completions(
    deps: Deps, principal: Principal, request_id: str, routing: Routing, body: dict[str, Any]
) -> dict[str, Any] | AsyncIterator[bytes]:
    req = validate(CompletionRequest, body)
    estimate = estimate_text_prompt(req.prompt)
    call = _call(
        deps,
        principal,
        request_id,
        routing,
        body,
        "openai.completions",
        req.model,
        bool(req.stream),
        False,
        req.output_cap,
        estimate,
    )
    return await _openai(
        call,
        "/completions",
        body,
        req.model,
        bool(req.stream_options and req.stream_options.include_usage),
    )


async def count_tokens(
    deps: Deps, principal: Principal, request_id: str, routing: Routing, body: dict[str, Any]
) -> dict[str, Any]:
    """Anthropic's token counting: the input tokens a Messages request would send.

    Counted here with the tokenizer (the upstreams are OpenAI-compatible and have no
    counting endpoint); free, so it writes no events and needs no balance, only a key of
    an account that is not suspended.
    """
    req = validate(CountTokensRequest, body)
    deps.catalog.resolve(req.model)
    check_not_suspended(deps.accounts.get(principal.account_id))
    messages, tools = anthropic_input(req)
    # Off the event loop: the tokenizer loads on first use (~2 s) and a long prompt takes
    # tens of milliseconds.
    return {"input_tokens": await asyncio.to_thread(count_chat_prompt, messages, tools)}


async def messages(
    deps: Deps, principal: Principal, request_id: str, routing: Routing, body: dict[str, Any]
) -> dict[str, Any] | AsyncIterator[bytes]:
    req = validate(MessagesRequest, body)
    stream = bool(req.stream)
    converted = anthropic_to_openai(req, req.model, stream)
    estimate = estimate_chat_prompt(converted["messages"], converted.get("tools"))
    call = _call(
        deps,
        principal,
        request_id,
        routing,
        body,
        "anthropic.messages",
        req.model,
        stream,
        bool(req.tools),
        req.max_tokens,
        estimate,
    )
    if stream:
        upstream = await open_stream(call, "/chat/completions", converted)
        return relay(call, upstream, AnthropicRenderer(req.model, estimate))
    result, usage = await complete(call, "/chat/completions", converted)
    return openai_to_anthropic(result, req.model, usage)


def _call(
    deps: Deps,
    principal: Principal,
    request_id: str,
    routing: Routing,
    body: dict[str, Any],
    surface: Surface,
    model: str,
    stream: bool,
    tools: bool,
    max_tokens: int | None,
    estimate: int,
) -> Call:
    preference = str(body.get("router_preference") or routing.preference)
    admitted = admit(
        deps,
        principal,
        model=model,
        stream=stream,
        uses_tools=tools,
        max_tokens=max_tokens,
        prompt_estimate=estimate,
        preference=preference,
        zdr_required=routing.zdr_required,
    )
    return Call(deps, request_id, surface, admitted, stream, model)


async def _openai(
    call: Call, path: str, body: dict[str, Any], public_model: str, include_usage: bool
) -> dict[str, Any] | AsyncIterator[bytes]:
    if call.stream:
        upstream = await open_stream(call, path, body)
        return relay(call, upstream, OpenAIRenderer(public_model, include_usage))
    result, _ = await complete(call, path, body)
    result["model"] = public_model
    return result


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
