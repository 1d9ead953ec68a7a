"""The dispatcher's work: turn each alert into one delivery per webhook that wants it, and
attempt every delivery that is due, recording each attempt's outcome.

Every change to a delivery is written to ``tollway.webhook-deliveries`` (through the
``publish`` port) before it counts: an alert's offset is committed only once its
deliveries are recorded, and a restart reads the recorded ones back, so no alert is lost
and none is delivered from scratch twice (a receiver may still see an attempt twice, when
its answer was lost: it deduplicates by ``webhook-id``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from schemas.events import Event, WebhookDelivery, WebhookRecorded
from schemas.webhooks import signing_secret

from ..domain.deliveries import after_attempt, new_delivery, wants

__all__ = ["KEPT_FINISHED", "Dispatcher", "Sender"]

#: Finished deliveries kept in memory for the log this process serves.
KEPT_FINISHED = 10_000

log = logging.getLogger("tollway.dispatcher")


class Sender(Protocol):
    async def send(
        self, url: str, secret: str, message_id: str, payload: dict[str, Any]
    ) -> tuple[int | None, str]: ...


class Dispatcher:
    def __init__(
        self,
        publish: Callable[[WebhookDelivery], Awaitable[None]],
        sender: Sender,
        master: bytes,
        retries_s: tuple[float, ...],
        concurrency: int = 32,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.publish, self.sender, self.master = publish, sender, master
        self.retries_s, self.clock = retries_s, clock
        self.webhooks: dict[str, WebhookRecorded] = {}
        #: Each delivery's latest state: every pending one (the work list), and the newest
        #: ``KEPT_FINISHED`` finished ones (the log served here; the topic keeps them all).
        self.deliveries: OrderedDict[str, WebhookDelivery] = OrderedDict()
        self._in_flight: set[str] = set()
        self._finished = 0
        self._slots = asyncio.Semaphore(concurrency)
        self.delivered = 0
        self.failed = 0
        #: Alerts no delivery could be made of (logged with the reason).
        self.skipped = 0

    def apply(self, event: Event) -> None:
        """A record read back: a webhook registered or deleted, a delivery's state."""
        if isinstance(event, WebhookRecorded):
            self.webhooks[event.webhook_id] = event
        elif isinstance(event, WebhookDelivery):
            self._keep(event)

    def _keep(self, delivery: WebhookDelivery) -> None:
        self.deliveries.pop(delivery.delivery_id, None)
        self.deliveries[delivery.delivery_id] = delivery  # newest last
        if delivery.status != "pending":
            self._finished += 1
        while self._finished > KEPT_FINISHED:
            for delivery_id, kept in self.deliveries.items():  # the oldest finished one
                if kept.status != "pending":
                    del self.deliveries[delivery_id]
                    self._finished -= 1
                    break

    async def on_alert(self, alert: Event) -> None:
        """Record a delivery for each webhook of the alert's account that wants it."""
        account = getattr(alert, "account_id", None)
        for webhook in list(self.webhooks.values()):
            if webhook.account_id != account or not wants(webhook, alert):
                continue
            delivery_id = f"{alert.event_id}:{webhook.webhook_id}"
            if delivery_id in self.deliveries:
                continue  # the alert read again after a restart: already recorded
            delivery = new_delivery(webhook, alert, self.clock())
            await self.publish(delivery)
            self._keep(delivery)

    def due(self) -> list[WebhookDelivery]:
        now = self.clock()
        return [
            d
            for d in self.deliveries.values()
            if d.status == "pending"
            and d.delivery_id not in self._in_flight
            and (d.next_attempt_at is None or d.next_attempt_at <= now)
        ]

    async def attempt(self, delivery: WebhookDelivery) -> WebhookDelivery:
        webhook = self.webhooks.get(delivery.webhook_id)
        if webhook is None or webhook.status != "active":
            status, error = None, "the webhook was deleted"
            done = delivery.model_copy(
                update={"status": "failed", "last_error": error, "next_attempt_at": None}
            )
        else:
            secret = signing_secret(self.master, webhook.webhook_id)
            status, error = await self.sender.send(
                webhook.url, secret, delivery.alert_id, delivery.payload
            )
            done = after_attempt(delivery, status, error, self.clock(), self.retries_s)
        await self.publish(done)
        self._keep(done)
        self.delivered += done.status == "delivered"
        self.failed += done.status == "failed"
        if done.status != "delivered":
            log.warning(
                "webhook attempt failed",
                extra={"delivery": done.delivery_id, "status": status, "error": error},
            )
        return done

    async def run(self, interval_s: float = 0.2) -> None:
        """Attempt what is due, forever; each delivery one attempt at a time."""
        tasks: set[asyncio.Task[None]] = set()
        while True:
            for delivery in self.due():
                self._in_flight.add(delivery.delivery_id)
                task = asyncio.create_task(self._one(delivery))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(interval_s)

    async def _one(self, delivery: WebhookDelivery) -> None:
        try:
            async with self._slots:
                await self.attempt(delivery)
        except Exception:  # Kafka down while recording: the delivery stays due
            log.exception("recording a webhook attempt failed", extra={"id": delivery.delivery_id})
        finally:
            self._in_flight.discard(delivery.delivery_id)

    def log_of(self, webhook_id: str, limit: int = 200) -> list[dict[str, Any]]:
        mine = [d for d in self.deliveries.values() if d.webhook_id == webhook_id]
        mine.sort(key=lambda d: d.occurred_at, reverse=True)
        return [d.model_dump(mode="json", exclude={"payload", "event_id"}) for d in mine[:limit]]
