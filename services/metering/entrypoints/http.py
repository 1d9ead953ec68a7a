"""Metering's reporting API: support lookup, usage, finance report, reconciliation.

Admin token (``Authorization: Bearer $TOLLWAY_ADMIN_TOKEN``); errors in the
OpenAI shape with a request_id. The process owns the ClickHouse connection (the
embedded engine allows one process per folder), so reports are served here.
"""

from __future__ import annotations

import csv
import hmac
import io
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..adapters.clickhouse import ClickHouse
from ..adapters.sink import MeteringSink
from ..service_layer import reports
from ..service_layer.reports import ReportError
from ..settings import MeteringSettings

__all__ = ["create_app"]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param


def _json(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload, default=str), status_code=status, media_type="application/json"
    )


def _when(raw: str | None, name: str, default: datetime) -> datetime:
    if raw is None:
        return default
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400,
            "invalid_request_error",
            f"'{name}' must be a date (2026-11-01) or an ISO 8601 time.",
            name,
        ) from None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _period(request: Request) -> tuple[datetime, datetime]:
    end = _when(request.query_params.get("to"), "to", datetime.now(UTC) + timedelta(seconds=1))
    start = _when(request.query_params.get("from"), "from", end - timedelta(days=30))
    if start >= end:
        raise ApiError(400, "invalid_request_error", "'from' must be before 'to'.", "from")
    return start, end


def _csv(rows: list[dict[str, Any]]) -> Response:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv")


def _parquet(rows: list[dict[str, Any]]) -> Response:
    """Typed columns: ``period`` a date, counts and nano-USD amounts int64, the rest strings."""
    columns: dict[str, pa.Array] = {}
    for name in rows[0] if rows else []:
        values = [row[name] for row in rows]
        if name == "period":
            columns[name] = pa.array([date.fromisoformat(v) for v in values], pa.date32())
        elif all(isinstance(v, int) for v in values):
            columns[name] = pa.array(values, pa.int64())
        else:
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out)
    return Response(
        out.getvalue(),
        media_type="application/vnd.apache.parquet",
        headers={"content-disposition": 'attachment; filename="finance.parquet"'},
    )


EXPORTS: dict[str, Callable[[dict[str, Any]], Response]] = {
    "json": _json,
    "csv": lambda report: _csv(report["rows"]),
    "parquet": lambda report: _parquet(report["rows"]),
}


def create_app(settings: MeteringSettings | None = None) -> FastAPI:
    cfg = settings or MeteringSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        clickhouse = ClickHouse(cfg.clickhouse_url, cfg.clickhouse_database)
        await clickhouse.migrate_async()
        sink = MeteringSink(cfg.kafka_bootstrap, clickhouse)
        await sink.start()
        app.state.clickhouse, app.state.sink = clickhouse, sink
        try:
            yield
        finally:
            await sink.stop()
            clickhouse.close()

    app = FastAPI(title="Tollway metering", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def request_id(request: Request, call_next: Any) -> Response:
        request.state.request_id = "req_" + secrets.token_hex(16)
        response: Response = await call_next(request)
        response.headers["x-request-id"] = request.state.request_id
        return response

    def _error(request: Request, exc: ApiError) -> Response:
        return _json(
            {
                "error": {
                    "message": exc.message,
                    "type": "invalid_request_error",
                    "code": exc.code,
                    "param": exc.param,
                    "request_id": getattr(request.state, "request_id", None),
                }
            },
            exc.status,
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return _error(request, exc)

    @app.exception_handler(ReportError)
    async def report_error(request: Request, exc: ReportError) -> Response:
        return _error(request, ApiError(400, "invalid_request_error", str(exc), exc.param))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return _error(request, ApiError(405, "invalid_http_method", "Method not allowed."))
        return _error(request, ApiError(404, "not_found", f"Unknown URL {request.url.path}."))

    def _auth(request: Request) -> ClickHouse:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not given or not hmac.compare_digest(given.encode(), cfg.admin_token.encode()):
            raise ApiError(
                401,
                "invalid_admin_token",
                "A valid admin token is required (Authorization: Bearer $TOLLWAY_ADMIN_TOKEN).",
            )
        clickhouse: ClickHouse = app.state.clickhouse
        return clickhouse

    @app.get("/v1/requests/{request_id}")
    async def lookup(request: Request, request_id: str) -> Response:
        ch = _auth(request)
        found = await ch.run(lambda c: reports.lookup(c, request_id))
        if found is None:
            raise ApiError(
                404,
                "request_not_found",
                f"No request {request_id} has been "
                "recorded (ids look like req_…; events land within seconds).",
                "request_id",
            )
        return _json(found)

    @app.get("/v1/usage/{account_id}")
    async def usage(request: Request, account_id: str) -> Response:
        ch = _auth(request)
        start, end = _period(request)
        rows = await ch.run(lambda c: reports.usage(c, account_id, start, end))
        return _json(
            {
                "account_id": account_id,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "data": rows,
            }
        )

    @app.get("/v1/reports/finance")
    async def finance(request: Request) -> Response:
        ch = _auth(request)
        start, end = _period(request)
        group_by = [g for g in request.query_params.get("group_by", "day").split(",") if g]
        fmt = request.query_params.get("format", "json")
        if fmt not in EXPORTS:
            raise ApiError(
                400, "invalid_request_error", "format must be json, csv or parquet.", "format"
            )
        report = await ch.run(lambda c: reports.finance(c, start, end, group_by))
        return EXPORTS[fmt](report)

    @app.get("/v1/reconcile")
    async def reconcile(request: Request) -> Response:
        ch = _auth(request)
        start, end = _period(request)
        account = request.query_params.get("account_id")
        found = await ch.run(lambda c: reports.reconcile(c, start, end, account))
        return _json(
            {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "account_id": account,
                "mismatches": found,
                "ok": not found,
            }
        )

    @app.get("/healthz")
    async def healthz() -> Response:
        clickhouse: ClickHouse = app.state.clickhouse
        sink: MeteringSink = app.state.sink
        migrations = await clickhouse.run(
            lambda c: c.query("SELECT count() FROM schema_migrations").result_rows[0][0]
        )
        return _json(
            {
                "status": "ok",
                "service": "metering",
                "clickhouse": clickhouse.target.kind,
                "migrations": migrations,
                "rows_written": sink.rows_written,
                "dead_lettered": sink.dead_lettered,
                "lag": await sink.lag(),
            }
        )

    return app
