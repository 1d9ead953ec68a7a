"""The event sink numbers each account's request events, so billing can drop copies."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from schemas.events import RequestStarted, decode_event
from services.gateway.adapters.events import EventSink
from services.gateway.adapters.spool import Spool


def _started(account: str, n: int) -> RequestStarted:
    return RequestStarted(
        request_id=f"req_{n}",
        account_id=account,
        key_id="key_1",
        model="m",
        deployment="d",
        surface="openai.chat",
        stream=False,
        prompt_tokens_estimate=1,
        occurred_at=datetime(2026, 11, 22, tzinfo=UTC),
    )


async def test_events_are_numbered_per_account_under_this_process_name(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "a")
    sink = EventSink("127.0.0.1:9", spool)  # never started: stop() spools what is queued
    for n, account in enumerate(["acc_a", "acc_b", "acc_a", "acc_a", "acc_b"]):
        sink.emit(_started(account, n), account)
    await sink.stop(flush_timeout_s=0.1)
    records, _ = spool.read()
    events = [decode_event(r.value) for r in records]
    stamps = [(e.account_id, e.producer_seq) for e in events if isinstance(e, RequestStarted)]
    assert stamps == [("acc_a", 1), ("acc_b", 1), ("acc_a", 2), ("acc_a", 3), ("acc_b", 2)]
    assert {e.producer for e in events if isinstance(e, RequestStarted)} == {sink.producer}

    restarted = EventSink("127.0.0.1:9", Spool(tmp_path / "b"))
    assert restarted.producer != sink.producer  # a new process is a new stream
