"""The dispatcher's rules, in process with a fake receiver and a fake log: one delivery per
webhook that wants the alert, retried on the schedule, failed when it is spent, never
made twice from the same alert, and nothing sent to a deleted webhook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.events import BalanceRanLow, KeyLimitReached, WebhookDelivery, WebhookRecorded
from services.dispatcher.service_layer.dispatcher import Dispatcher

T0 = datetime(2026, 12, 2, 12, tzinfo=UTC)
RETRIES = (10.0, 60.0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Receiver:
    def __init__(self, answers: list[int | None]) -> None:
        self.answers, self.got = answers, []  # type: ignore[var-annotated]

    async def send(
        self, url: str, secret: str, message_id: str, payload: dict[str, Any]
    ) -> tuple[int | None, str]:
        self.got.append((url, message_id, payload["type"]))
        status = self.answers.pop(0) if self.answers else 200
        return status, "" if status == 200 else f"HTTP {status}"


def _dispatcher(receiver: Receiver, clock: Clock) -> tuple[Dispatcher, list[WebhookDelivery]]:
    log: list[WebhookDelivery] = []

    async def publish(d: WebhookDelivery) -> None:
        log.append(d)

    dispatcher = Dispatcher(publish, receiver, b"k" * 32, RETRIES, clock=clock)
    for webhook_id, events in (("wh_all", ()), ("wh_keys", ("api_key.limit_reached",))):
        dispatcher.apply(
            WebhookRecorded(
                webhook_id=webhook_id,
                account_id="acc",
                url=f"https://example.test/{webhook_id}",
                events=events,
                status="active",
                created_at=T0,
            )
        )
    return dispatcher, log


def _low(n: int = 1) -> BalanceRanLow:
    return BalanceRanLow(
        event_id=f"acc:alert:absolute:{n}",
        account_id="acc",
        threshold_kind="absolute",
        threshold_nano=10**9,
        available_nano=5,
        last_top_up_nano=10**10,
        occurred_at=T0,
    )


async def _attempt_due(dispatcher: Dispatcher) -> list[WebhookDelivery]:
    return [await dispatcher.attempt(d) for d in dispatcher.due()]


async def test_an_alert_goes_to_each_webhook_that_wants_it_once() -> None:
    clock, receiver = Clock(), Receiver([])
    dispatcher, log = _dispatcher(receiver, clock)
    await dispatcher.on_alert(_low())
    await dispatcher.on_alert(_low())  # read again after a restart: no second delivery
    assert [d.webhook_id for d in log] == ["wh_all"]
    key = KeyLimitReached(
        account_id="acc", key_id="k", spend_limit_nano=1, spend_period="day", occurred_at=T0
    )
    await dispatcher.on_alert(key)
    assert sorted(d.webhook_id for d in log[1:]) == ["wh_all", "wh_keys"]
    done = await _attempt_due(dispatcher)
    assert {d.status for d in done} == {"delivered"} and len(receiver.got) == 3
    assert dispatcher.due() == []


async def test_a_failing_receiver_is_retried_on_schedule_then_given_up() -> None:
    clock, receiver = Clock(), Receiver([503, None, 500])
    dispatcher, log = _dispatcher(receiver, clock)
    await dispatcher.on_alert(_low())
    (first,) = await _attempt_due(dispatcher)
    assert (first.status, first.attempts, first.next_attempt_at) == (
        "pending",
        1,
        T0 + timedelta(seconds=10),
    )
    assert dispatcher.due() == []  # not before its time
    clock.now = T0 + timedelta(seconds=10)
    (second,) = await _attempt_due(dispatcher)
    assert second.next_attempt_at == clock.now + timedelta(seconds=60)
    clock.now += timedelta(seconds=60)
    (third,) = await _attempt_due(dispatcher)
    assert (third.status, third.attempts, third.last_status) == ("failed", 3, 500)
    assert [d.status for d in log] == ["pending", "pending", "pending", "failed"]
    # Every attempt carried the alert's id: what a receiver deduplicates by.
    assert {message_id for _, message_id, _ in receiver.got} == {"acc:alert:absolute:1"}


async def test_nothing_is_sent_to_a_deleted_webhook() -> None:
    clock, receiver = Clock(), Receiver([])
    dispatcher, _ = _dispatcher(receiver, clock)
    await dispatcher.on_alert(_low())
    gone = dispatcher.webhooks["wh_all"].model_copy(update={"status": "deleted"})
    dispatcher.apply(gone)
    (done,) = await _attempt_due(dispatcher)
    assert done.status == "failed" and receiver.got == []


async def test_memory_keeps_every_pending_delivery_and_the_newest_finished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("services.dispatcher.service_layer.dispatcher.KEPT_FINISHED", 2)
    clock, receiver = Clock(), Receiver([503])  # the first attempt fails: stays pending
    dispatcher, _ = _dispatcher(receiver, clock)
    for n in range(1, 5):
        await dispatcher.on_alert(_low(n))
    await _attempt_due(dispatcher)
    kept = {d.alert_id: d.status for d in dispatcher.deliveries.values()}
    assert kept == {
        "acc:alert:absolute:1": "pending",
        "acc:alert:absolute:3": "delivered",
        "acc:alert:absolute:4": "delivered",
    }
