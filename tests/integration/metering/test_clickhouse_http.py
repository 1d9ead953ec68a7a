"""Metering over ClickHouse's HTTP interface, the path a ClickHouse server (and so a second
metering consumer) takes: the migrations, the sink's Arrow inserts and every report go
through clickhouse-connect's HTTP client to the suite's ClickHouse server (the official image
with ``TOLLWAY_TEST_CONTAINERS=1``, else ``tests/clickhouse_http.py`` in front of the embedded
engine) and must answer exactly what the embedded path answers for the same week of events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from schemas.clickhouse import migrations
from services.metering.adapters import reports
from services.metering.adapters.clickhouse import ClickHouse, _MigrationLock
from services.metering.errors import ConfigError
from tests.containers import ClickHouseServer
from tests.support import budget, free_port

from .events import ACCOUNTS, DAY0, insert_events, week_of_history
from .rollups import refresh_rollups

pytestmark = pytest.mark.integration


def _answers(client: Any) -> dict[str, Any]:
    """Every report metering serves, over the week and each account."""
    start, end = DAY0, DAY0 + timedelta(days=7)
    middle = DAY0 + timedelta(days=2, hours=12)  # splits days: rollups and event tables both
    out: dict[str, Any] = {
        "stale": reports.stale_days(client),
        "lookup": reports.lookup(client, f"req-{ACCOUNTS[0]}-3-1"),
        "unknown": reports.lookup(client, "req-none"),
        "reconcile": reports.reconcile(client, start, end, None),
    }
    for group_by in (["day"], ["week", "model"], ["month", "account"], ["model", "account"]):
        out[f"finance {group_by}"] = reports.finance(client, start, end, group_by)
    out["finance split"] = reports.finance(client, middle, end, ["day", "model"])
    for account in ACCOUNTS:
        out[f"usage {account}"] = reports.usage(client, account, middle, end)
        out[f"by key {account}"] = reports.usage_by_key(client, account, start, end)
        out[f"statement {account}"] = reports.statement(client, account, middle, end)
    return out


def test_every_report_over_http_equals_the_embedded_engine(
    clickhouse_server: ClickHouseServer, chdb_folder: Path, clickhouse_database: str
) -> None:
    events = week_of_history()
    embedded = ClickHouse(f"chdb://{chdb_folder}", clickhouse_database)
    server = ClickHouse(clickhouse_server.url(clickhouse_database))
    answers = []
    for clickhouse in (embedded, server):
        assert clickhouse.migrate() == [m.version for m in migrations()]
        assert clickhouse.migrate() == []
        client = clickhouse.client()
        insert_events(client, events, ingested_then=True)
        refresh_rollups(client)
        answers.append(_answers(client))
    over_chdb, over_http = answers
    assert over_chdb["lookup"] is not None and over_chdb["unknown"] is None
    assert over_chdb["finance ['day']"]["rows"], "the week has rows to compare"
    for name in over_chdb:
        assert over_http[name] == over_chdb[name], name


def test_a_bad_query_over_http_is_the_servers_error_not_a_hang(
    clickhouse_server: ClickHouseServer,
) -> None:
    """clickhouse-connect reads the server's error and raises it: a failing report surfaces
    as metering's 503, as it does on the embedded engine."""
    client = clickhouse_server.client()
    with pytest.raises(DatabaseError, match=r"UNKNOWN_TABLE|Unknown table"):
        client.query("SELECT count() FROM no_such_table")
    assert client.query("SELECT 1 + {n:UInt8}", parameters={"n": 1}).result_rows == [(2,)]


_MIGRATE = """
import json, sys, time
from pathlib import Path
from services.metering.adapters.clickhouse import ClickHouse, _MigrationLock
from services.metering.errors import ConfigError
clickhouse = ClickHouse(sys.argv[1])
while not Path(sys.argv[2]).exists():  # both start migrating at once
    time.sleep(0.01)
print(json.dumps(clickhouse.migrate()))
"""


def test_instances_starting_together_apply_each_migration_once(
    clickhouse_server: ClickHouseServer, clickhouse_database: str, tmp_path: Path
) -> None:
    """Two metering instances on one server start at the same moment: one migrates, the
    other waits for it and then finds nothing to do (0008 copies whole tables: two at once
    would double every row)."""
    url = clickhouse_server.url(clickhouse_database)
    go = tmp_path / "go"
    starting = [
        subprocess.Popen([sys.executable, "-c", _MIGRATE, url, str(go)], stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    go.touch()
    applied = []
    for proc in starting:
        out, _ = proc.communicate(timeout=budget(120))
        assert proc.returncode == 0
        applied.append(json.loads(out))
    every = [m.version for m in migrations()]
    assert sorted(applied) == [[], every]
    client = ClickHouse(url).client()
    counts = client.query("SELECT version, count() FROM schema_migrations GROUP BY version")
    assert sorted(counts.result_rows) == [(v, 1) for v in every]
    assert "schema_migrations_lock" not in _tables(client)


def test_a_stale_migration_lock_is_taken_over_and_a_live_one_waited_for(
    clickhouse_server: ClickHouseServer, clickhouse_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An instance killed while migrating leaves the lock: the next one takes it over once
    it has been silent for half a minute, but never while its holder still beats."""
    clickhouse = ClickHouse(clickhouse_server.url(clickhouse_database))
    admin = clickhouse_server.client()
    admin.command(f"CREATE DATABASE `{clickhouse_database}`")
    client = clickhouse.client()

    def lock(beat_s_ago: float) -> None:
        client.command(
            "CREATE TABLE schema_migrations_lock (holder String, beat DateTime64(3, 'UTC')) "
            "ENGINE = Memory"
        )
        at = datetime.now(UTC) - timedelta(seconds=beat_s_ago)
        client.insert("schema_migrations_lock", [["dead:1", at]], column_names=["holder", "beat"])

    lock(beat_s_ago=1)
    monkeypatch.setattr(_MigrationLock, "WAIT_S", 1.0)
    with pytest.raises(ConfigError, match="another instance has held schema_migrations_lock"):
        clickhouse.migrate()
    assert client.query("SELECT count() FROM schema_migrations").result_rows == [(0,)]
    client.command("DROP TABLE schema_migrations_lock")
    lock(beat_s_ago=5 * 60)
    assert clickhouse.migrate() == [m.version for m in migrations()]
    assert "schema_migrations_lock" not in _tables(client)


def _tables(client: Any) -> set[str]:
    return {row[0] for row in client.query("SHOW TABLES").result_rows}


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (  # an operator pastes a generated password into the URL unencoded
            lambda server, host: {
                "CLICKHOUSE_URL": f"http://tollway:{server.password}@{host}/?database=x"
            },
            "CLICKHOUSE_URL's host and port do not parse (a password with / # ? or @ in it "
            "must be percent-encoded; or set CLICKHOUSE_PASSWORD instead)",
        ),
        (  # or gives the password of another deployment
            lambda server, host: server.env("x") | {"CLICKHOUSE_PASSWORD": "another-one"},
            "ClickHouse at {host} refused user 'tollway': check CLICKHOUSE_USER and "
            "CLICKHOUSE_PASSWORD (or the URL's user:password)",
        ),
    ],
    ids=["unencoded", "wrong"],
)
def test_credentials_metering_cannot_use_stop_it_with_one_line_that_does_not_show_them(
    clickhouse_server: ClickHouseServer, given: Any, said: str
) -> None:
    host = clickhouse_server.address.removeprefix("http://")
    env = (
        os.environ
        | {"TOLLWAY_ADMIN_TOKEN": "t" * 32, "TOLLWAY_METERING_PORT": str(free_port())}
        | given(clickhouse_server, host)
    )
    run = [sys.executable, "-m", "services.metering"]
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=budget(60))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"tollway-metering: {said.format(host=host)}"]
