"""The only code in metering that talks to ClickHouse, through clickhouse-connect.

``CLICKHOUSE_URL`` picks the target:

- ``chdb:///abs/folder`` (or ``chdb://relative/folder``): ClickHouse's engine
  embedded in this process, on a local folder. One process per folder and one
  folder per process, so the metering service owns it.
- ``http(s)://user:password@host:port/?database=name``: a ClickHouse server.

clickhouse-connect's async client refuses chdb and a chdb connection shared
across threads mixes up query parameters, so queries run on a small pool of
threads that each hold their own client; ``run`` hands work to that pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, unquote, urlparse

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from schemas.clickhouse import migrations

from ..errors import ConfigError

__all__ = ["ClickHouse", "Target", "parse_url"]

T = TypeVar("T")
log = logging.getLogger("tollway.metering.clickhouse")


@dataclass(frozen=True)
class Target:
    kind: str  # "chdb" or "http"
    database: str
    path: Path | None = None
    host: str = ""
    port: int = 0
    secure: bool = False
    username: str = "default"
    password: str = field(default="", repr=False)


def parse_url(
    url: str, database: str = "tollway", username: str = "", password: str = ""
) -> Target:
    """``username``/``password`` (``CLICKHOUSE_USER``/``CLICKHOUSE_PASSWORD``), when given,
    replace the URL's: a password then needs no percent-encoding."""
    parsed = urlparse(url)
    db = parse_qs(parsed.query).get("database", [database])[0]
    if parsed.scheme == "chdb":
        raw = unquote((parsed.netloc or "") + parsed.path)
        if not raw:
            raise ConfigError(
                "CLICKHOUSE_URL chdb:// needs a folder, e.g. chdb:///var/lib/tollway/ch"
            )
        return Target("chdb", db, path=Path(raw).resolve())
    if parsed.scheme in ("http", "https"):
        if not parsed.hostname:
            raise ConfigError(f"CLICKHOUSE_URL has no host: {_redacted(url)!r}")
        secure = parsed.scheme == "https"
        try:
            port = parsed.port or (8443 if secure else 8123)
        except ValueError:  # "user:pa/ss@host": the URL ends its authority at the "/"
            raise ConfigError(
                "CLICKHOUSE_URL's host and port do not parse (a password with / # ? or @ "
                "in it must be percent-encoded; or set CLICKHOUSE_PASSWORD instead)"
            ) from None
        return Target(
            "http",
            db,
            host=parsed.hostname,
            port=port,
            secure=secure,
            username=username or unquote(parsed.username or "default"),
            password=password or unquote(parsed.password or ""),
        )
    raise ConfigError(
        f"CLICKHOUSE_URL must start with chdb://, http:// or https://: {_redacted(url)!r}"
    )


def _redacted(url: str) -> str:
    """``url`` with what stands before its last ``@`` (a user and password) replaced, for
    messages: a password must not reach a log."""
    if "@" not in url:
        return url
    scheme, sep, _ = url.partition("://")
    return f"{scheme + sep if sep else ''}***@{url.rpartition('@')[2]}"


class ClickHouse:
    """A per-thread clickhouse-connect client for one target and database."""

    def __init__(
        self,
        url: str,
        database: str = "tollway",
        threads: int = 4,
        username: str = "",
        password: str = "",
    ) -> None:
        self.target = parse_url(url, database, username, password)
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="clickhouse")
        if self.target.path is not None:
            _check_folder(self.target.path)

    def _connect(self, database: str | None) -> Client:
        t = self.target
        if t.kind == "chdb":
            return clickhouse_connect.get_client(dsn=f"chdb://{t.path}", database=database)
        return clickhouse_connect.get_client(
            host=t.host,
            port=t.port,
            secure=t.secure,
            username=t.username,
            password=t.password,
            database=database or "default",
        )

    def check(self) -> None:
        """A server's answer to one connection, before anything is served: a wrong user or
        password, or no server at the address, stops metering with one line (``ConfigError``)
        rather than a traceback from the lifespan."""
        t = self.target
        if t.kind != "http":
            return
        try:
            self._connect(None).close()
        except DatabaseError as exc:
            where = f"ClickHouse at {t.host}:{t.port}"
            if "AUTHENTICATION_FAILED" in str(exc):
                raise ConfigError(
                    f"{where} refused user {t.username!r}: check CLICKHOUSE_USER and "
                    "CLICKHOUSE_PASSWORD (or the URL's user:password)"
                ) from None
            raise ConfigError(f"{where} did not answer: {str(exc).splitlines()[0]}") from None

    def client(self) -> Client:
        """This thread's client, created on first use."""
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._connect(self.target.database)
            self._local.client = client
        return client

    async def run(self, fn: Callable[[Client], T]) -> T:
        """Run ``fn(client)`` on the ClickHouse thread pool, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, lambda: fn(self.client())
        )

    async def migrate_async(self) -> list[int]:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.migrate)

    def migrate(self, through: int | None = None) -> list[int]:
        """Create the database and apply every migration not yet applied (up to ``through``,
        if given: tests of one migration); return those applied.

        On a server, instances starting together take turns (``_MigrationLock``): 0008 copies
        whole tables, which two at once would double."""
        admin = self._connect(None)
        # Atomic: refreshable materialized views (the rollups) need it; chdb's default differs.
        admin.command(f"CREATE DATABASE IF NOT EXISTS `{self.target.database}` ENGINE = Atomic")
        client = self.client()
        client.command(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
            "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version"
        )
        # The embedded engine's folder admits one process: that is its lock.
        lock = _MigrationLock(client, lambda: self._connect(self.target.database))
        with contextlib.nullcontext() if self.target.kind == "chdb" else lock:
            done = {
                row[0] for row in client.query("SELECT version FROM schema_migrations").result_rows
            }
            applied = []
            for migration in migrations():
                if migration.version in done or (
                    through is not None and migration.version > through
                ):
                    continue
                for statement in migration.statements:
                    client.command(statement)
                client.insert(
                    "schema_migrations",
                    [[migration.version, migration.name]],
                    column_names=["version", "name"],
                )
                applied.append(migration.version)
        return applied

    async def insert_arrow(self, table: str, rows: pa.Table) -> None:
        await self.run(lambda c: c.insert_arrow(table, rows))

    async def migrations_applied(self) -> int:
        return await self.run(
            lambda c: int(c.query("SELECT count() FROM schema_migrations").result_rows[0][0])
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _check_folder(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the ClickHouse folder {path}: {exc.strerror}") from None
    if not os.access(path, os.W_OK):
        raise ConfigError(f"the ClickHouse folder {path} is not writable")


class _MigrationLock:
    """One migrating instance at a time on a server: whoever creates the lock table holds
    it (a second CREATE fails), beats in it every few seconds while migrating, and drops it.
    A lock whose last beat is older than ``STALE_S`` belonged to an instance that died, and
    is taken over; a live one is waited for, up to ``WAIT_S``."""

    TABLE = "schema_migrations_lock"
    BEAT_S, STALE_S, WAIT_S = 2.0, 30.0, 900.0

    def __init__(self, client: Client, beat_client: Callable[[], Client]) -> None:
        self.client, self._beat_client = client, beat_client
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._beating: threading.Thread | None = None

    def __enter__(self) -> _MigrationLock:
        deadline = time.monotonic() + self.WAIT_S
        while not self._take():
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"another instance has held {self.TABLE} for over {self.WAIT_S:.0f} s; "
                    "if none is migrating, drop that table"
                )
            time.sleep(0.5)
        self._beat(self.client)
        self._beating = threading.Thread(target=self._beat_until_stopped, daemon=True)
        self._beating.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._beating is not None:
            self._beating.join()
        self.client.command(f"DROP TABLE IF EXISTS {self.TABLE}")

    def _take(self) -> bool:
        try:
            self.client.command(
                f"CREATE TABLE {self.TABLE} (holder String, beat DateTime64(3, 'UTC')) "
                "ENGINE = Memory"
            )
            return True
        except DatabaseError as exc:
            if "TABLE_ALREADY_EXISTS" not in str(exc) and "already exists" not in str(exc):
                raise
        # Seconds since the last beat; with none (its holder died at once, or the server
        # restarted and the Memory table lost its rows), since the table was made.
        try:
            silent = self.client.query(
                "SELECT if(count() > 0, dateDiff('millisecond', max(beat), now64(3)) / 1000, "
                "(SELECT dateDiff('second', any(metadata_modification_time), now()) "
                "FROM system.tables WHERE database = currentDatabase() "
                "AND name = 'schema_migrations_lock')) FROM schema_migrations_lock"
            ).result_rows[0][0]
        except DatabaseError:  # dropped by its holder in between: try again
            return False
        if silent > self.STALE_S:
            log.warning("taking over a stale migration lock (silent %.0f s)", silent)
            self.client.command(f"DROP TABLE IF EXISTS {self.TABLE}")
        return False

    def _beat(self, client: Client) -> None:
        client.insert(
            self.TABLE, [[self.holder, datetime.now(UTC)]], column_names=["holder", "beat"]
        )

    def _beat_until_stopped(self) -> None:
        client = self._beat_client()  # a client is not shared between threads
        while not self._stop.wait(self.BEAT_S):
            with contextlib.suppress(Exception):  # a missed beat only ages the lock
                self._beat(client)
