import time
from pathlib import Path

from services.gateway.adapters.spool import Spool, SpoolRecord


def _record(i: int) -> SpoolRecord:
    return SpoolRecord(
        "tollway.requests",
        b"acc",
        f'{{"n":{i}}}'.encode(),
        (("type", b"request.started"),),
        time.time(),
    )


def test_records_come_back_in_order_across_restarts(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([_record(i) for i in range(5)])
    records, offset = Spool(tmp_path).read(3)  # a new process sees the same spool
    assert [r.value for r in records] == [f'{{"n":{i}}}'.encode() for i in range(3)]
    spool.ack(offset)
    reopened = Spool(tmp_path)
    rest, end = reopened.read(10)
    assert [r.value for r in rest] == [b'{"n":3}', b'{"n":4}']
    reopened.ack(end)
    assert reopened.empty and (tmp_path / "events.log").stat().st_size == 0


def test_a_torn_last_line_is_dropped_not_glued_to_the_next(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([_record(1)])
    with (tmp_path / "events.log").open("ab") as log:
        log.write(b'{"t":"tollway.requ')  # crash mid-write
    reopened = Spool(tmp_path)
    reopened.append([_record(2)])
    records, _ = reopened.read(10)
    assert [r.value for r in records] == [b'{"n":1}', b'{"n":2}']


def test_backlog_age_counts_from_the_oldest_record(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    assert spool.oldest_age() == 0.0
    spool.append([_record(1)])
    assert 0 <= spool.oldest_age() < 5
    assert spool.oldest_age(now=time.time() + 100) >= 99
