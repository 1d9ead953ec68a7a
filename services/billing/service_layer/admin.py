"""The admin API's logic: writing commands, waiting for their results (and for their effect
to be readable), reading accounts, keys and prices."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from schemas.admin_access import TokenBook
from schemas.events import (
    AccountStatusChanged,
    ApiKeyRecorded,
    Command,
    CommandResult,
    Event,
    KeyPolicy,
    MemberRecorded,
    ModelPriced,
    PriceVersion,
    SessionRecorded,
    WebhookRecorded,
    new_id,
)
from schemas.money import format_usd
from schemas.prices import PriceBook
from schemas.topics import BILLING_COMMANDS, PRICES, Topic

from ..domain.rules import Rules
from ..domain.sign_in import SignInThrottle
from ..errors import BadRequest, Conflict, NotFound, for_rejection

__all__ = ["AdminRuntime", "Publisher", "ReadModel", "submit"]

COMMAND_WAIT_S = 10.0
#: How long an answered command waits for its effect to be readable here (the result and
#: the account's status travel on two topics, read in no fixed order).
VISIBLE_WAIT_S = 5.0


class Publisher(Protocol):
    async def publish(self, topic: Topic, key: str, event: Event) -> None: ...


class ReadModel(Protocol):
    """What the admin API reads (``adapters/view.py``): accounts, keys, command results
    (awaited by command id) and the audit trail."""

    accounts: dict[str, AccountStatusChanged]
    keys: dict[str, ApiKeyRecorded]
    webhooks: dict[str, WebhookRecorded]
    members: dict[str, MemberRecorded]
    #: Active members' ids by email; active sessions by the sha256 of their token.
    emails: dict[str, str]
    sessions: dict[str, SessionRecorded]

    def expect(self, command_id: str) -> asyncio.Future[CommandResult]: ...

    def forget(self, command_id: str) -> None: ...

    async def caught_up(
        self, account_id: str, since: datetime, key_id: str | None, timeout: float
    ) -> bool: ...

    async def wait_for(self, seen: Callable[[], bool], timeout: float) -> bool: ...

    def keys_of(self, account_id: str) -> list[ApiKeyRecorded]: ...

    def members_of(self, account_id: str) -> list[MemberRecorded]: ...

    def audit(self, account_id: str | None = None, limit: int = 500) -> list[dict[str, Any]]: ...


class PasswordHashing(Protocol):
    """Members' password hashes (``adapters/passwords.py``)."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, stored: str | None, password: str) -> bool: ...


@dataclass
class AdminRuntime:
    tokens: TokenBook
    view: ReadModel
    publisher: Publisher
    prices: PriceBook
    rules: Rules
    rotation_overlap_s: int
    ready: Callable[[], bool]
    stats: Callable[[], dict[str, Any]]
    passwords: PasswordHashing
    #: False while the consumer is stuck (restarting over and over): /healthz answers 503.
    healthy: Callable[[], bool] = lambda: True
    #: The webhook master key, made or read on first use.
    webhook_master: Callable[[], bytes] = lambda: b""
    webhooks_allow_http: bool = False
    #: How long a member's sign-in lasts, and who has failed to sign in lately.
    session_ttl_s: int = 12 * 3600
    sign_ins: SignInThrottle = field(default_factory=SignInThrottle)


async def submit(
    rt: AdminRuntime, event: Command, visible: Callable[[], bool] | None = None
) -> dict[str, Any]:
    """Write a command and wait for billing's answer (and, once applied, for ``visible()``:
    a record the caller reads next)."""
    waiter = rt.view.expect(event.event_id)
    try:
        await rt.publisher.publish(BILLING_COMMANDS, event.account_id, event)
        result = await asyncio.wait_for(waiter, COMMAND_WAIT_S)
    except TimeoutError:
        rt.view.forget(event.event_id)
        return {
            "outcome": "pending",
            "command_id": event.event_id,
            "message": "Billing has not applied the command yet; it will.",
        }
    if result.outcome == "rejected":
        raise for_rejection(result.code, result.reason)
    if result.outcome == "applied":
        # Answer once a read here sees the command's effect: create, then top up at once, as
        # the quickstart does, must find the account; a new key must be listed.
        key = getattr(event, "new_key_id", None) or getattr(event, "key_id", None)
        await rt.view.caught_up(event.account_id, event.occurred_at, key, VISIBLE_WAIT_S)
        if visible is not None:
            await rt.view.wait_for(visible, VISIBLE_WAIT_S)
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


def known(rt: AdminRuntime, account_id: str) -> AccountStatusChanged:
    status = rt.view.accounts.get(account_id)
    if status is None:
        raise NotFound(f"No account {account_id}.", "account_id", "account_not_found")
    return status


def known_key(rt: AdminRuntime, key_id: str) -> ApiKeyRecorded:
    record = rt.view.keys.get(key_id)
    if record is None:
        raise NotFound(f"No API key {key_id}.", "key_id", "key_not_found")
    return record


def live_key(record: ApiKeyRecorded) -> ApiKeyRecorded:
    """A key a command may still change: answered here, from every key's record, because
    billing forgets keys a day after they were revoked or expired."""
    if record.status == "expired":
        message = (
            f"Key {record.key_id} is already expired (rotated out, or past the expiry it was "
            "made with): rotate its successor, or create a key."
        )
    else:
        message = f"Key {record.key_id} is already {record.status}."
    if record.status != "active":
        raise Conflict(message, "key_id", f"key_{record.status}")
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
        "policy": _policy_view(k.policy),
        "limit_reached": k.limit_reached,
        "member_id": k.member_id,
        "access_revoked": k.access_revoked,
    }


def _policy_view(policy: KeyPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    limit = policy.spend_limit_nano
    return policy.model_dump(mode="json") | {
        "spend_limit": format_usd(limit) if limit is not None else None
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


async def set_price(
    rt: AdminRuntime, model: str, per_mtok: tuple[int, int, int, int], when: str | None
) -> dict[str, Any]:
    """A new price version of ``model`` (input, output, cache-read, cache-write nano-USD per
    1M tokens) from ``when`` (ISO 8601; now if unset, and never earlier than now)."""
    if model not in rt.prices.models():
        raise NotFound(f"No model {model} in the catalog.", "model", "model_not_found")
    try:
        effective = datetime.fromisoformat(when) if when else datetime.now(UTC)
    except ValueError:
        raise BadRequest("'effective_from' must be an ISO 8601 time.", "effective_from") from None
    if effective.tzinfo is None:
        raise BadRequest("'effective_from' needs a time zone.", "effective_from")
    if effective < datetime.now(UTC):
        effective = datetime.now(UTC)  # never reprice the past
    version = PriceVersion(
        version=new_id()[:13],
        effective_from=effective,
        input_per_mtok_nano=per_mtok[0],
        output_per_mtok_nano=per_mtok[1],
        cache_read_per_mtok_nano=per_mtok[2],
        cache_write_per_mtok_nano=per_mtok[3],
    )
    versions = [v for v in rt.prices.versions(model) if v.version != "catalog"] + [version]
    await rt.publisher.publish(PRICES, model, ModelPriced(model=model, versions=tuple(versions)))
    rt.prices.add(model, version)
    return {"model": model, "version": _price_view(version)}
