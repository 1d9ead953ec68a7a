"""The event sink numbers each account's request events, so billing can drop copies."""

from __future__ import annotations

from pathlib import Path

from schemas.events import RequestStarted, decode_event
from services.gateway.adapters.events import EventPublisher
from services.gateway.adapters.spool import Spool
from tests.factories import started


def _started(account: str, n: int) -> RequestStarted:
    return started(request_id=f"req_{n}", account_id=account)


async def test_events_are_numbered_per_account_under_this_process_name(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "a")
    sink = EventPublisher("127.0.0.1:9", spool)  # never started: stop() spools what is queued
    for n, account in enumerate(["acc_a", "acc_b", "acc_a", "acc_a", "acc_b"]):
        sink.emit(_started(account, n), account)
    await sink.stop(flush_timeout_s=0.1)
    records, _ = spool.read()
    events = [decode_event(r.value) for r in records]
    stamps = [(e.account_id, e.producer_seq) for e in events if isinstance(e, RequestStarted)]
    assert stamps == [("acc_a", 1), ("acc_b", 1), ("acc_a", 2), ("acc_a", 3), ("acc_b", 2)]
    assert {e.producer for e in events if isinstance(e, RequestStarted)} == {sink.producer_id}

    restarted = EventPublisher("127.0.0.1:9", Spool(tmp_path / "b"))
    assert restarted.producer_id != sink.producer_id  # a new process is a new stream
