"""Billing's admin API: accounts, keys, top-ups, adjustments, prices. Bearer admin token.

Every change is a command on ``tollway.billing-commands``; the API waits (up to
``COMMAND_WAIT_S``) for billing's result and answers with it, or 202 with the
command id if billing has not answered yet.
"""

from __future__ import annotations

import hmac
import logging
import secrets as pysecrets
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas.events import (
    AdjustBalance,
    CreateAccount,
    CreateApiKey,
    Event,
    ReactivateAccount,
    RevokeApiKey,
    RotateApiKey,
    SuspendAccount,
    TopUp,
)
from schemas.money import format_usd

from ..domain.keys import new_key
from ..service_layer import admin
from ..service_layer.admin import AdminError, AdminRuntime

__all__ = ["build_app"]

log = logging.getLogger("tollway.billing.admin")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def build_app(rt: AdminRuntime, lifespan: Any = None) -> FastAPI:
    app = FastAPI(title="Tollway billing admin", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def request_id(request: Request, call_next: Any) -> Response:
        rid = "req_" + pysecrets.token_hex(16)
        request.state.request_id = rid
        response: Response = await call_next(request)
        response.headers["x-request-id"] = rid
        return response

    def _error(request: Request, exc: AdminError) -> Response:
        return _json(
            {
                "error": {
                    "message": exc.message,
                    "type": exc.kind,
                    "code": exc.code,
                    "param": exc.param,
                    "request_id": getattr(request.state, "request_id", None),
                }
            },
            exc.status,
        )

    @app.exception_handler(AdminError)
    async def admin_error(request: Request, exc: AdminError) -> Response:
        return _error(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return _error(
                request,
                AdminError(405, "invalid_http_method", f"{request.method} is not allowed here."),
            )
        return _error(request, AdminError(404, "not_found", f"Unknown URL {request.url.path}."))

    def _auth(request: Request) -> None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not given or not hmac.compare_digest(given.encode(), rt.admin_token.encode()):
            raise AdminError(
                401,
                "invalid_admin_token",
                "A valid admin token is required (Authorization: Bearer $TOLLWAY_ADMIN_TOKEN).",
            )

    async def _body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise AdminError(400, "invalid_request_error", "The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise AdminError(400, "invalid_request_error", "The body must be a JSON object.")
        return body

    async def command(
        request: Request, event: Event, created: bool = False, extra: dict[str, Any] | None = None
    ) -> Response:
        result = await admin.submit(rt, event)
        status = 202 if result.get("outcome") == "pending" else (201 if created else 200)
        return _json(result | (extra or {}), status)

    @app.post("/v1/accounts")
    async def create_account(request: Request) -> Response:
        _auth(request)
        body = await _body(request)
        name = admin.text(body, "name", required=True)
        plan = admin.plan(body.get("plan"))
        account_id = "acc_" + pysecrets.token_hex(8)
        event = CreateAccount(
            account_id=account_id,
            name=name,
            plan=plan,
            idempotency_key=admin.idem(body, f"create:{account_id}"),
        )
        return await command(request, event, created=True, extra={"account_id": account_id})

    @app.get("/v1/accounts")
    async def list_accounts(request: Request) -> Response:
        _auth(request)
        return _json({"data": [admin.account_view(s) for s in rt.view.accounts.values()]})

    @app.get("/v1/accounts/{account_id}")
    async def show_account(request: Request, account_id: str) -> Response:
        _auth(request)
        status = admin.known(rt, account_id)
        return _json(
            admin.account_view(status)
            | {"keys": [admin.key_view(k) for k in rt.view.keys_of(account_id)]}
        )

    @app.get("/v1/accounts/{account_id}/balance")
    async def balance(request: Request, account_id: str) -> Response:
        _auth(request)
        return _json(admin.account_view(admin.known(rt, account_id)))

    @app.post("/v1/accounts/{account_id}/suspend")
    async def suspend(request: Request, account_id: str) -> Response:
        _auth(request)
        admin.known(rt, account_id)
        body = await _body(request)
        return await command(
            request,
            SuspendAccount(
                account_id=account_id,
                reason=admin.text(body, "reason"),
                idempotency_key=admin.idem(body, "suspend:" + pysecrets.token_hex(8)),
            ),
        )

    @app.post("/v1/accounts/{account_id}/reactivate")
    async def reactivate(request: Request, account_id: str) -> Response:
        _auth(request)
        admin.known(rt, account_id)
        body = await _body(request)
        return await command(
            request,
            ReactivateAccount(
                account_id=account_id,
                idempotency_key=admin.idem(body, "reactivate:" + pysecrets.token_hex(8)),
            ),
        )

    @app.post("/v1/accounts/{account_id}/keys")
    async def create_key(request: Request, account_id: str) -> Response:
        _auth(request)
        admin.known(rt, account_id)
        body = await _body(request)
        key = new_key()
        event = CreateApiKey(
            account_id=account_id,
            key_id=key.key_id,
            prefix=key.prefix,
            key_hash=key.key_hash,
            name=admin.text(body, "name"),
            idempotency_key="key:" + key.key_id,
        )
        return await command(
            request,
            event,
            created=True,
            extra={
                "key_id": key.key_id,
                "secret": key.secret,
                "prefix": key.prefix,
                "note": "The secret is shown once; Tollway keeps only its hash.",
            },
        )

    @app.get("/v1/accounts/{account_id}/keys")
    async def list_keys(request: Request, account_id: str) -> Response:
        _auth(request)
        admin.known(rt, account_id)
        return _json({"data": [admin.key_view(k) for k in rt.view.keys_of(account_id)]})

    @app.post("/v1/keys/{key_id}/revoke")
    async def revoke_key(request: Request, key_id: str) -> Response:
        _auth(request)
        record = admin.known_key(rt, key_id)
        return await command(
            request,
            RevokeApiKey(
                account_id=record.account_id, key_id=key_id, idempotency_key="revoke:" + key_id
            ),
        )

    @app.post("/v1/keys/{key_id}/rotate")
    async def rotate_key(request: Request, key_id: str) -> Response:
        _auth(request)
        record = admin.known_key(rt, key_id)
        body = await _body(request)
        overlap = admin.integer(body, "overlap_seconds", rt.rotation_overlap_s, minimum=0)
        key = new_key()
        expires = datetime.now(UTC) + timedelta(seconds=overlap)
        event = RotateApiKey(
            account_id=record.account_id,
            key_id=key_id,
            new_key_id=key.key_id,
            prefix=key.prefix,
            key_hash=key.key_hash,
            old_key_expires_at=expires,
            idempotency_key="rotate:" + key.key_id,
        )
        return await command(
            request,
            event,
            extra={
                "key_id": key.key_id,
                "secret": key.secret,
                "prefix": key.prefix,
                "old_key_id": key_id,
                "old_key_expires_at": expires.isoformat(),
            },
        )

    @app.post("/v1/accounts/{account_id}/top-ups")
    async def top_up(request: Request, account_id: str) -> Response:
        _auth(request)
        admin.known(rt, account_id)
        body = await _body(request)
        amount = admin.usd(body, "amount_usd", positive=True)
        if amount < rt.rules.min_top_up_nano:
            raise AdminError(
                400,
                "top_up_below_minimum",
                f"A top-up must be at least {format_usd(rt.rules.min_top_up_nano)} USD.",
                "amount_usd",
            )
        event = TopUp(
            account_id=account_id,
            amount_nano=amount,
            idempotency_key=admin.idem(body, "topup:" + pysecrets.token_hex(8)),
        )
        return await command(request, event, created=True)

    @app.post("/v1/accounts/{account_id}/adjustments")
    async def adjust(request: Request, account_id: str) -> Response:
        _auth(request)
        admin.known(rt, account_id)
        body = await _body(request)
        event = AdjustBalance(
            account_id=account_id,
            amount_nano=admin.usd(body, "amount_usd"),
            reason=admin.text(body, "reason", required=True),
            refund=bool(body.get("refund", False)),
            idempotency_key=admin.idem(body, "adjust:" + pysecrets.token_hex(8)),
        )
        return await command(request, event, created=True)

    @app.get("/v1/prices")
    async def list_prices(request: Request) -> Response:
        _auth(request)
        return _json({"data": admin.prices_view(rt)})

    @app.put("/v1/prices/{model}")
    async def set_price(request: Request, model: str) -> Response:
        _auth(request)
        return _json(await admin.set_price(rt, model, await _body(request)))

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "ok", "service": "billing"})

    @app.get("/readyz")
    async def readyz() -> Response:
        ready = rt.ready()
        return _json({"ready": ready, **rt.stats()}, 200 if ready else 503)

    return app
