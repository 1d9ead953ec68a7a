"""The DDL applies to the embedded engine, and rows round-trip through clickhouse-connect."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.clickhouse import migrations
from schemas.events import LedgerEntryRecorded, RequestStarted
from services.metering.adapters.clickhouse import ClickHouse
from services.metering.domain.rows import tables_of

pytestmark = pytest.mark.integration


@pytest.fixture
def clickhouse(chdb_folder: Path, clickhouse_database: str) -> ClickHouse:
    return ClickHouse(f"chdb://{chdb_folder}", clickhouse_database)


def test_migrations_apply_once_and_create_the_tables(clickhouse: ClickHouse) -> None:
    assert clickhouse.migrate() == [m.version for m in migrations()] == list(range(1, 11))
    assert clickhouse.migrate() == []
    tables = {row[0] for row in clickhouse.client().query("SHOW TABLES").result_rows}
    assert {"request_events", "ledger_entries", "schema_migrations", "usage_hourly"} <= tables
    assert {"usage_daily", "revenue_hourly", "revenue_daily", "usage_hourly_refresh"} <= tables
    assert not any(t.endswith("_0008") for t in tables)  # 0008's copies are gone


def test_the_sort_order_migration_keeps_every_row_and_can_run_again(
    clickhouse: ClickHouse,
) -> None:
    """0008 copies both event tables into new ones with another sorting key. Run again over
    data (as after a crash halfway), it keeps every row, the projections and entry_seq; the
    migrations after it then apply as usual."""
    clickhouse.migrate(through=8)
    client = clickhouse.client()
    at = datetime(2026, 11, 22, 12, tzinfo=UTC)
    requests = [
        RequestStarted(
            request_id=f"req-{n}",
            account_id=f"acc-{n % 3}",
            key_id="k",
            model="m",
            deployment="d",
            surface="openai.chat",
            stream=False,
            prompt_tokens_estimate=n,
            occurred_at=at,
        )
        for n in range(50)
    ]
    ledger = [
        LedgerEntryRecorded(
            entry_id=f"acc:{n}",
            event_id=f"acc:{n}",
            account_id="acc",
            kind="charge",
            amount_nano=-n,
            balance_after_nano=1000 - n,
            cause_event_id="c",
            request_id=f"req-{n}",
            occurred_at=at,
        )
        for n in range(1, 21)
    ]
    for name, table in tables_of([*requests, *ledger]).items():  # the columns as of 0008
        client.insert_arrow(
            name, table.drop_columns(["actor"]) if name == "ledger_entries" else table
        )
    before = client.query(
        "SELECT sum(prompt_tokens_estimate), count() FROM request_events"
    ).result_rows
    assert before == [(sum(range(50)), 50)]
    (sort_order,) = [m for m in migrations() if m.version == 8]
    for statement in sort_order.statements:
        client.command(statement)
    assert (
        client.query("SELECT sum(prompt_tokens_estimate), count() FROM request_events").result_rows
        == before
    )
    assert client.query("SELECT sum(entry_seq), count() FROM ledger_entries").result_rows == [
        (210, 20)
    ]
    keys = dict(
        client.query(
            "SELECT name, sorting_key FROM system.tables WHERE database = currentDatabase() "
            "AND name IN ('request_events', 'ledger_entries')"
        ).result_rows
    )
    assert keys["request_events"].startswith("toDate(started_at), account_id")
    assert keys["ledger_entries"].startswith("toDate(occurred_at), account_id")
    assert clickhouse.migrate() == [m.version for m in migrations() if m.version > 8]
    looked_up = client.query(
        "SELECT account_id FROM request_events WHERE request_id = 'req-7' "
        "SETTINGS force_optimize_projection = 1"
    ).result_rows
    assert looked_up == [("acc-1",)]


def test_a_request_event_written_is_read_back(clickhouse: ClickHouse) -> None:
    clickhouse.migrate()
    now = datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC)
    columns = [
        "event_id",
        "event_type",
        "occurred_at",
        "request_id",
        "account_id",
        "key_id",
        "model",
        "deployment",
        "surface",
        "stream",
        "started_at",
        "prompt_tokens",
        "completion_tokens",
        "cache_read_tokens",
    ]
    row = [
        "ev-1",
        "request.completed",
        now,
        "req-1",
        "acc-1",
        "key-1",
        "sim-small",
        "sim",
        "openai.chat",
        True,
        now,
        120,
        30,
        64,
    ]
    client = clickhouse.client()
    client.insert("request_events", [row, row], column_names=columns)  # a re-read duplicates
    result = client.query(
        "SELECT request_id, prompt_tokens, completion_tokens, cache_read_tokens, occurred_at "
        "FROM request_events FINAL WHERE request_id = {rid:String}",
        parameters={"rid": "req-1"},
    )
    # clickhouse-connect returns naive datetimes that are UTC by the column's type.
    rows = [(*r[:4], r[4].replace(tzinfo=UTC)) for r in result.result_rows]
    assert rows == [("req-1", 120, 30, 64, now)]


def test_ledger_amounts_keep_nano_precision(clickhouse: ClickHouse) -> None:
    clickhouse.migrate()
    client = clickhouse.client()
    client.insert(
        "ledger_entries",
        [["e1", "x1", datetime.now(UTC), "acc", "charge", -1_234_567_891, 8_765_432_109, "cause"]],
        column_names=[
            "event_id",
            "entry_id",
            "occurred_at",
            "account_id",
            "kind",
            "amount_nano",
            "balance_after_nano",
            "cause_event_id",
        ],
    )
    assert client.query("SELECT sum(amount_nano) FROM ledger_entries").result_rows == [
        (-1_234_567_891,)
    ]


async def test_queries_from_many_threads_keep_their_own_parameters(clickhouse: ClickHouse) -> None:
    clickhouse.migrate()
    errors: list[tuple[int, int]] = []

    def worker(n: int) -> None:
        for _ in range(50):
            got = clickhouse.client().query("SELECT {n:UInt32}", parameters={"n": n}).result_rows
            if got != [(n,)]:
                errors.append((n, got[0][0]))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert await clickhouse.run(lambda c: c.query("SELECT 41 + 1").result_rows) == [(42,)]
