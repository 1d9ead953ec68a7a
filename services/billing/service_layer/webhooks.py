"""Registering where an account's alerts go. A webhook is a record on ``tollway.webhooks``
(not a billing command: it moves no money), read by the admin view and the dispatcher;
its signing secret is derived (``schemas.webhooks``), shown once here, stored nowhere."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from schemas.events import ALERT_TYPES, WebhookRecorded
from schemas.topics import WEBHOOKS
from schemas.webhooks import signing_secret

from ..errors import BadRequest, NotFound
from .admin import AdminRuntime, known

__all__ = ["ALERT_TYPES", "MAX_WEBHOOKS", "delete", "listed", "register"]

#: Active webhooks per account.
MAX_WEBHOOKS = 10


def _checked_url(url: str, allow_http: bool) -> str:
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise BadRequest(f"'url' must be an {' or '.join(schemes)} URL with a host.", "url")
    if parts.username or parts.password:
        raise BadRequest("'url' must not carry credentials: the signature proves Tollway.", "url")
    return url


def view(record: WebhookRecorded) -> dict[str, Any]:
    return {
        "webhook_id": record.webhook_id,
        "account_id": record.account_id,
        "url": record.url,
        "events": list(record.events) or list(ALERT_TYPES),
        "status": record.status,
        "created_at": record.created_at.isoformat(),
    }


def listed(rt: AdminRuntime, account_id: str) -> list[dict[str, Any]]:
    known(rt, account_id)
    mine = [w for w in rt.view.webhooks.values() if w.account_id == account_id]
    return [view(w) for w in sorted(mine, key=lambda w: w.created_at) if w.status == "active"]


async def register(
    rt: AdminRuntime, account_id: str, url: str, events: list[str], actor: str
) -> dict[str, Any]:
    known(rt, account_id)
    unknown = sorted(set(events) - set(ALERT_TYPES))
    if unknown:
        raise BadRequest(
            f"unknown alert type {unknown[0]!r}: one of {', '.join(ALERT_TYPES)}.", "events"
        )
    if len(listed(rt, account_id)) >= MAX_WEBHOOKS:
        raise BadRequest(f"An account has at most {MAX_WEBHOOKS} webhooks.", "url")
    now = datetime.now(UTC)
    record = WebhookRecorded(
        webhook_id="wh_" + secrets.token_hex(8),
        account_id=account_id,
        url=_checked_url(url, rt.webhooks_allow_http),
        events=tuple(sorted(set(events))),
        status="active",
        created_at=now,
        occurred_at=now,
        actor=actor,
    )
    await rt.publisher.publish(WEBHOOKS, record.webhook_id, record)
    rt.view.webhooks[record.webhook_id] = record  # read your own write
    secret = signing_secret(rt.webhook_master(), record.webhook_id)
    return view(record) | {
        "secret": secret,
        "note": "The signing secret is shown once (Standard Webhooks: webhook-signature).",
    }


async def delete(rt: AdminRuntime, webhook_id: str, actor: str) -> dict[str, Any]:
    record = rt.view.webhooks.get(webhook_id)
    if record is None or record.status != "active":
        raise NotFound(f"No webhook {webhook_id}.", "webhook_id", "webhook_not_found")
    now = datetime.now(UTC)
    gone = record.model_copy(update={"status": "deleted", "occurred_at": now, "actor": actor})
    await rt.publisher.publish(WEBHOOKS, webhook_id, gone)
    rt.view.webhooks[webhook_id] = gone
    return view(gone)
