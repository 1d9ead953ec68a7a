"""What a delivery is and how it moves: pure. A delivery is one alert to one webhook;
it is attempted at once, then after each of ``retries_s`` following a failure, and marked
``failed`` when they are spent. The receiver deduplicates by ``webhook-id`` (the alert's
event id), since an attempt whose answer was lost is made again: at least once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from schemas.events import Event, WebhookDelivery, WebhookRecorded, new_id

__all__ = ["after_attempt", "body", "new_delivery", "wants"]


def wants(webhook: WebhookRecorded, alert: Event) -> bool:
    return webhook.status == "active" and (not webhook.events or alert.TYPE in webhook.events)


def body(alert: Event) -> dict[str, Any]:
    """The JSON a receiver gets, in the Standard Webhooks shape."""
    data = alert.model_dump(mode="json", exclude={"event_id", "occurred_at"})
    return {"type": alert.TYPE, "timestamp": alert.occurred_at.isoformat(), "data": data}


def new_delivery(webhook: WebhookRecorded, alert: Event, now: datetime) -> WebhookDelivery:
    return WebhookDelivery(
        event_id=new_id(),
        occurred_at=now,
        delivery_id=f"{alert.event_id}:{webhook.webhook_id}",
        webhook_id=webhook.webhook_id,
        account_id=webhook.account_id,
        alert_id=alert.event_id,
        alert_type=alert.TYPE,
        payload=body(alert),
        status="pending",
        attempts=0,
        next_attempt_at=now,
    )


def after_attempt(
    delivery: WebhookDelivery,
    status: int | None,
    error: str,
    now: datetime,
    retries_s: tuple[float, ...],
) -> WebhookDelivery:
    """The delivery once an attempt answered ``status`` (None: no answer, ``error`` says why)."""
    attempts = delivery.attempts + 1
    update: dict[str, Any] = {
        "event_id": new_id(),
        "occurred_at": now,
        "attempts": attempts,
        "last_status": status,
        "last_error": error[:500],
    }
    if status is not None and 200 <= status < 300:
        return delivery.model_copy(update=update | {"status": "delivered", "next_attempt_at": None})
    if attempts > len(retries_s):
        return delivery.model_copy(update=update | {"status": "failed", "next_attempt_at": None})
    later = now + timedelta(seconds=retries_s[attempts - 1])
    return delivery.model_copy(update=update | {"next_attempt_at": later})
