"""Webhooks: where an account's alerts are delivered, and each delivery's state.

``webhook.recorded`` on the compacted ``tollway.webhooks`` (key: webhook_id), written by
billing's admin API; ``webhook.delivery`` on the compacted ``tollway.webhook-deliveries``
(key: delivery_id), written by the dispatcher after each attempt: its latest record is the
delivery's state, and the topic is the delivery log. No signing secret is ever written:
each webhook's is derived from a master key (``schemas.webhooks``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from ._base import Event
from .alerts import BalanceRanLow, EventParked, KeyLimitReached, QuotaUsed
from .members import DeveloperAccessRequested

__all__ = ["ALERT_TYPES", "DeliveryStatus", "WebhookDelivery", "WebhookRecorded"]

#: What a webhook may receive (billing checks a registration against it; the console
#: offers it).
ALERT_TYPES = (
    BalanceRanLow.TYPE,
    QuotaUsed.TYPE,
    KeyLimitReached.TYPE,
    DeveloperAccessRequested.TYPE,
    EventParked.TYPE,
)

DeliveryStatus = Literal["pending", "delivered", "failed"]
_Id = Field(min_length=1, max_length=64)


class WebhookRecorded(Event, type="webhook.recorded"):
    webhook_id: str = _Id
    account_id: str = _Id
    url: str = Field(min_length=1, max_length=2048)
    #: The alert types it receives (empty: every alert of the account).
    events: tuple[str, ...] = Field(default=(), max_length=20)
    status: Literal["active", "deleted"]
    created_at: AwareDatetime
    #: The admin token that registered or deleted it.
    actor: str | None = Field(default=None, max_length=64)


class WebhookDelivery(Event, type="webhook.delivery"):
    #: ``<alert event_id>:<webhook_id>``: the same alert to the same webhook is one delivery.
    delivery_id: str = Field(min_length=1, max_length=160)
    webhook_id: str = _Id
    account_id: str = _Id
    #: The alert: its id (the receiver's deduplication key), type and body as sent.
    alert_id: str = _Id
    alert_type: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int = Field(ge=0, le=100)
    next_attempt_at: AwareDatetime | None = None
    last_status: int | None = Field(default=None, ge=0, le=999)
    last_error: str = Field(default="", max_length=500)
