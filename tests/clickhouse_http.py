"""ClickHouse's HTTP interface in front of the embedded engine, for tests on machines with
no ClickHouse server (these have none: Debian's package is from 2018, and no registry this
project reaches carries a server binary).

``python -m tests.clickhouse_http`` (``CH_HTTP_PORT``, ``CH_HTTP_FOLDER``; ``CH_HTTP_USER``
and ``CH_HTTP_PASSWORD`` to require one user, checked as a server checks basic auth or
``X-ClickHouse-User``/``X-ClickHouse-Key``) serves what clickhouse-connect's HTTP client
sends a server: the query in the body or in ``query`` with
the insert data in the body (compressed as ``Content-Encoding`` says), ``database``,
``param_<name>`` for server-side binding, settings as URL parameters, and errors as the
server writes them (``Code: N. DB::Exception: ...`` with ``X-ClickHouse-Exception-Code``).
The SQL runs on chdb, ClickHouse's own engine, so what it checks is the HTTP client path
and our SQL on it; not a server's users, settings profiles or replication (docs/metering.md
says what a server deployment needs). Several processes can share it, as they would a
server, which the embedded engine alone does not allow.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import tempfile
import threading
import zlib
from pathlib import Path

import lz4.frame
import uvicorn
from chdb import session as chdb_session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["create_app"]

# What clickhouse-connect sends that a server reads as transport, not as query settings.
_TRANSPORT = {
    "query",
    "database",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "wait_end_of_query",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "enable_http_compression",
    "client_protocol_version",
    "default_format",
}
_INSERT = re.compile(
    r"^\s*INSERT\s+INTO\s+(?P<target>.+?)\s+FORMAT\s+(?P<fmt>\w+)\s*$", re.I | re.S
)
_INSERT_HEAD = re.compile(rb"(\s*INSERT\s+INTO\s[^\n]*?\sFORMAT\s+\w+)[ \t]*\r?\n", re.I)
_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.I)
_CODE = re.compile(r"Code: (\d+)")
_SETTING = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _decompress(body: bytes, encoding: str | None) -> bytes:
    if not encoding or not body:
        return body
    if encoding == "lz4":
        return bytes(lz4.frame.decompress(body))
    if encoding in ("gzip", "deflate"):
        return zlib.decompress(body, 31 if encoding == "gzip" else 15)
    raise ValueError(f"Content-Encoding {encoding} is not read here")


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Engine:
    """One chdb session; a server runs queries concurrently, this one at a time."""

    def __init__(self, folder: Path) -> None:
        self._session = chdb_session.Session(str(folder))
        self._lock = threading.Lock()
        self._spool = Path(tempfile.mkdtemp(prefix="ch-http-"))

    def run(
        self,
        sql: str,
        data: bytes | None,
        database: str,
        params: dict[str, str],
        settings: dict[str, str],
    ) -> tuple[bytes, str]:
        """(result, format) of one statement, as a server would answer it."""
        with self._lock:
            self._session.query(f"USE `{database}`")
            for name, value in settings.items():
                self._session.query(f"SET {name} = {_quote(value)}")
            try:
                insert = _INSERT.match(sql) if data else None
                if insert is not None and data is not None:
                    infile = self._spool / "insert.bin"
                    infile.write_bytes(data)
                    sql = (
                        f"INSERT INTO {insert['target']} FROM INFILE {_quote(str(infile))} "
                        f"FORMAT {insert['fmt']}"
                    )
                fmt_match = _FORMAT.search(sql)
                fmt = fmt_match.group(1) if fmt_match else "TabSeparated"
                result = self._session.query(sql, fmt, params=params or None)
                return (result.bytes() or b""), fmt
            finally:
                for name in settings:
                    self._session.query(f"SET {name} = DEFAULT")


def _credentials(request: Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return user, password
    headers = request.headers
    return headers.get("x-clickhouse-user", "default"), headers.get("x-clickhouse-key", "")


def create_app(folder: Path, user: tuple[str, str] | None = None) -> Starlette:
    """``user``: the one (name, password) let in; None lets everyone in."""
    engine = Engine(folder)

    async def ping(_: Request) -> Response:
        return PlainTextResponse("Ok.\n")

    async def query(request: Request) -> Response:
        if user is not None and _credentials(request) != user:
            return PlainTextResponse(
                f"Code: 516. DB::Exception: {_credentials(request)[0]}: Authentication failed: "
                "password is incorrect, or there is no user with such name. "
                "(AUTHENTICATION_FAILED)",
                status_code=516,
                headers={"X-ClickHouse-Exception-Code": "516"},
            )
        args = request.query_params
        body = _decompress(await request.body(), request.headers.get("content-encoding"))
        if "query" in args:
            sql, data = args["query"], body or None
        elif head := _INSERT_HEAD.match(body):  # an insert's query, then its data
            sql, data = head.group(1).decode(), body[head.end() :]
        else:
            sql, data = body.decode(), None
        params = {k[len("param_") :]: v for k, v in args.items() if k.startswith("param_")}
        settings = {
            k: v
            for k, v in args.items()
            if k not in _TRANSPORT and not k.startswith("param_") and _SETTING.fullmatch(k)
        }
        try:
            out, fmt = await asyncio.to_thread(
                engine.run, sql, data, args.get("database", "default"), params, settings
            )
        except Exception as exc:  # the engine's error, answered as a server answers it
            message = str(exc)
            code = _CODE.search(message)
            number = code.group(1) if code else "1001"
            return PlainTextResponse(
                message if message.startswith("Code:") else f"Code: {number}. {message}",
                status_code=500,
                headers={"X-ClickHouse-Exception-Code": number},
            )
        summary = {"read_rows": "0", "written_rows": "0", "result_rows": "0"}
        headers = {
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Summary": json.dumps(summary),
        }
        # As a server does: compressed when the client asks for it and accepts lz4.
        if args.get("enable_http_compression") == "1" and "lz4" in request.headers.get(
            "accept-encoding", ""
        ):
            out, headers["Content-Encoding"] = lz4.frame.compress(out), "lz4"
        return Response(out, headers=headers)

    return Starlette(
        routes=[Route("/ping", ping), Route("/", query, methods=["GET", "POST"])],
    )


def main() -> None:
    folder = Path(os.environ["CH_HTTP_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    user = os.environ.get("CH_HTTP_USER")
    uvicorn.run(
        create_app(folder, (user, os.environ.get("CH_HTTP_PASSWORD", "")) if user else None),
        host="127.0.0.1",
        port=int(os.environ["CH_HTTP_PORT"]),
        log_level="warning",
    )


if __name__ == "__main__":
    main()
