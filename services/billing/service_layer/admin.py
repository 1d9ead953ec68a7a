"""The admin API's logic: checking input, writing commands, waiting for their results."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from schemas.events import (
    AccountStatusChanged,
    ApiKeyRecorded,
    Event,
    ModelPriced,
    Plan,
    PriceVersion,
    new_id,
)
from schemas.money import format_usd, usd_to_nano
from schemas.topics import BILLING_COMMANDS, PRICES, Topic

from ..adapters.view import AdminView
from ..domain.pricing import PriceBook
from ..domain.rules import Rules

__all__ = ["AdminError", "AdminRuntime", "submit"]

COMMAND_WAIT_S = 10.0


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param
        self.kind = "invalid_request_error" if status < 500 else "api_error"


class Publisher(Protocol):
    async def publish(self, topic: Topic, key: str, event: Event) -> None: ...


@dataclass
class AdminRuntime:
    admin_token: str
    view: AdminView
    publisher: Publisher
    prices: PriceBook
    rules: Rules
    rotation_overlap_s: int
    ready: Callable[[], bool]
    stats: Callable[[], dict[str, Any]]


async def submit(rt: AdminRuntime, event: Event) -> dict[str, Any]:
    """Write a command and wait for billing's answer."""
    waiter = rt.view.expect(event.event_id)
    try:
        await rt.publisher.publish(BILLING_COMMANDS, event.account_id, event)  # type: ignore[attr-defined]
        result = await asyncio.wait_for(waiter, COMMAND_WAIT_S)
    except TimeoutError:
        rt.view.forget(event.event_id)
        return {
            "outcome": "pending",
            "command_id": event.event_id,
            "message": "Billing has not applied the command yet; it will.",
        }
    if result.outcome == "rejected":
        status = 404 if result.reason.startswith("unknown account") else 409
        raise AdminError(status, "command_rejected", result.reason)
    return {
        "outcome": result.outcome,
        "command_id": event.event_id,
        "account_id": result.account_id,
        "status": result.status,
        "balance": format_usd(result.balance_nano),
        "balance_nano": result.balance_nano,
        "available": format_usd(result.available_nano),
        "available_nano": result.available_nano,
    }


# -- input ------------------------------------------------------------------------------------


def text(body: dict[str, Any], name: str, required: bool = False) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > 500:
        raise AdminError(
            400,
            "invalid_request_error",
            f"'{name}' must be a non-empty string of at most 500 characters."
            if required
            else f"'{name}' must be a string.",
            name,
        )
    return value.strip()


def idem(body: dict[str, Any], default: str) -> str:
    key = body.get("idempotency_key")
    if key is None:
        return default
    if not isinstance(key, str) or not 1 <= len(key) <= 128:
        raise AdminError(
            400,
            "invalid_request_error",
            "'idempotency_key' must be a string of 1 to 128 characters.",
            "idempotency_key",
        )
    return "idem:" + key


def usd(body: dict[str, Any], name: str, positive: bool = False) -> int:
    raw = body.get(name)
    if isinstance(raw, float):
        raise AdminError(
            400,
            "invalid_amount",
            f"'{name}' must be a decimal string such as "
            '"10.50", not a JSON float (floats cannot hold money exactly).',
            name,
        )
    try:
        amount = usd_to_nano(raw)  # type: ignore[arg-type]
    except ValueError as exc:
        raise AdminError(400, "invalid_amount", f"'{name}': {exc}.", name) from None
    if positive and amount <= 0:
        raise AdminError(400, "invalid_amount", f"'{name}' must be greater than zero.", name)
    if amount == 0:
        raise AdminError(400, "invalid_amount", f"'{name}' must not be zero.", name)
    return amount


def integer(body: dict[str, Any], name: str, default: int, minimum: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise AdminError(
            400,
            "invalid_request_error",
            f"'{name}' must be an integer of at least {minimum}.",
            name,
        )
    return value


def plan(raw: Any) -> Plan:
    if raw is None:
        return Plan()
    if isinstance(raw, str):
        return Plan(name=raw)
    try:
        return Plan.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = "plan." + ".".join(str(p) for p in first["loc"])
        raise AdminError(400, "invalid_request_error", f"{param}: {first['msg']}", param) from None


def known(rt: AdminRuntime, account_id: str) -> AccountStatusChanged:
    status = rt.view.accounts.get(account_id)
    if status is None:
        raise AdminError(404, "account_not_found", f"No account {account_id}.", "account_id")
    return status


def known_key(rt: AdminRuntime, key_id: str) -> ApiKeyRecorded:
    record = rt.view.keys.get(key_id)
    if record is None:
        raise AdminError(404, "key_not_found", f"No API key {key_id}.", "key_id")
    return record


# -- views ------------------------------------------------------------------------------------


def account_view(s: AccountStatusChanged) -> dict[str, Any]:
    return {
        "account_id": s.account_id,
        "name": s.name,
        "status": s.status,
        "balance": format_usd(s.balance_nano),
        "held": format_usd(s.held_nano),
        "available": format_usd(s.available_nano),
        "balance_nano": s.balance_nano,
        "held_nano": s.held_nano,
        "available_nano": s.available_nano,
        "month_tokens": s.month_tokens,
        "plan": {
            "name": s.plan_name,
            "monthly_token_quota": s.monthly_token_quota,
            "requests_per_minute": s.requests_per_minute,
            "tokens_per_minute": s.tokens_per_minute,
        },
        "as_of": s.occurred_at.isoformat(),
    }


def key_view(k: ApiKeyRecorded) -> dict[str, Any]:
    return {
        "key_id": k.key_id,
        "account_id": k.account_id,
        "name": k.name,
        "prefix": k.prefix,
        "status": k.status,
        "created_at": k.created_at.isoformat(),
        "expires_at": k.expires_at.isoformat() if k.expires_at else None,
    }


def _price_view(v: PriceVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "effective_from": v.effective_from.isoformat(),
        "input": format_usd(v.input_per_mtok_nano),
        "output": format_usd(v.output_per_mtok_nano),
        "cache_read": format_usd(v.cache_read_per_mtok_nano),
        "cache_write": format_usd(v.cache_write_per_mtok_nano),
    }


def prices_view(rt: AdminRuntime) -> list[dict[str, Any]]:
    return [
        {
            "model": m,
            "per": "1M tokens",
            "currency": "USD",
            "versions": [_price_view(v) for v in rt.prices.versions(m)],
        }
        for m in rt.prices.models()
    ]


async def set_price(rt: AdminRuntime, model: str, body: dict[str, Any]) -> dict[str, Any]:
    if model not in rt.prices.models():
        raise AdminError(404, "model_not_found", f"No model {model} in the catalog.", "model")
    when = body.get("effective_from")
    try:
        effective = datetime.fromisoformat(when) if isinstance(when, str) else datetime.now(UTC)
    except ValueError:
        raise AdminError(
            400,
            "invalid_request_error",
            "'effective_from' must be an ISO 8601 time.",
            "effective_from",
        ) from None
    if effective.tzinfo is None:
        raise AdminError(
            400, "invalid_request_error", "'effective_from' needs a time zone.", "effective_from"
        )
    if effective < datetime.now(UTC):
        effective = datetime.now(UTC)  # never reprice the past
    version = PriceVersion(
        version=new_id()[:13],
        effective_from=effective,
        input_per_mtok_nano=_price(body, "input"),
        output_per_mtok_nano=_price(body, "output"),
        cache_read_per_mtok_nano=_price(body, "cache_read"),
        cache_write_per_mtok_nano=_price(body, "cache_write", required=False),
    )
    versions = [v for v in rt.prices.versions(model) if v.version != "catalog"] + [version]
    await rt.publisher.publish(PRICES, model, ModelPriced(model=model, versions=tuple(versions)))
    rt.prices.add(model, version)
    return {"model": model, "version": _price_view(version)}


def _price(body: dict[str, Any], name: str, required: bool = True) -> int:
    if name not in body and not required:
        return 0
    value = usd(body | {name: body.get(name, "")}, name) if body.get(name) not in ("0", 0) else 0
    if value < 0:
        raise AdminError(400, "invalid_amount", f"'{name}' must not be negative.", name)
    return value
