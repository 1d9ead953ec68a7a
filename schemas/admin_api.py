"""What billing's and metering's admin APIs share as a contract (the ``tollway`` CLI and the
console read both the same way): errors in the OpenAI shape with the request_id, an
``x-request-id`` on every answer, and the app that renders them in one place.

Each service's ``errors.py`` builds its own tree on ``AdminError``; who may call is
``admin_access``.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from .admin_access import AccessDenied, TokenBook

__all__ = [
    "AdminError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "MethodNotAllowed",
    "NotFound",
    "TooManyRequests",
    "Unauthorized",
    "admin_app",
    "denied",
    "error_body",
    "json_response",
    "request_id_for",
]


_REQUEST_ID = re.compile(r"req_[0-9a-f]{32}")


def request_id_for(request: Request) -> str:
    """The request id a proxy in front passed on (the gateway for members, the console for
    staff), if it is one of ours, else a new one: one id end to end."""
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.fullmatch(given) else "req_" + secrets.token_hex(16)


class AdminError(Exception):
    status = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.param, self.headers = message, param, headers or {}
        if code is not None:
            self.code = code

    @property
    def kind(self) -> str:
        return "invalid_request_error" if self.status < 500 else "api_error"


class BadRequest(AdminError):
    status, code = 400, "invalid_request_error"


class Unauthorized(AdminError):
    status, code = 401, "invalid_admin_token"


class Forbidden(AdminError):
    status, code = 403, "insufficient_scope"


class NotFound(AdminError):
    status, code = 404, "not_found"


class MethodNotAllowed(AdminError):
    status, code = 405, "invalid_http_method"


class Conflict(AdminError):
    status, code = 409, "command_rejected"


class TooManyRequests(AdminError):
    status, code = 429, "rate_limit_exceeded"


def denied(refusal: AccessDenied) -> AdminError:
    """A refused admin token, as the error the caller gets (401 or 403)."""
    return (Unauthorized if refusal.status == 401 else Forbidden)(refusal.message)


def error_body(error: AdminError, request_id: str | None) -> dict[str, Any]:
    return {
        "error": {
            "message": error.message,
            "type": error.kind,
            "code": error.code,
            "param": error.param,
            "request_id": request_id,
        }
    }


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload, default=str), status_code=status, media_type="application/json"
    )


def admin_app(title: str, router: APIRouter, lifespan: Any, log: logging.Logger) -> FastAPI:
    """An admin API: ``router``'s routes, a request id on every answer, every error
    (``AdminError``, an unknown URL or method, a bug) in the shape above, and ``/metrics``
    (Prometheus text) and ``/v1/whoami`` (the token's name and scopes) for a token with any
    scope of ``app.state.runtime.tokens``."""
    app = FastAPI(title=title, lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        tokens: TokenBook = request.app.state.runtime.tokens
        try:
            tokens.authorize(
                request.headers.get("authorization", ""), "operator", "finance", "support"
            )
        except AccessDenied as refusal:
            raise denied(refusal) from None
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/whoami")
    async def whoami(request: Request) -> Response:
        """The caller's token name and scopes (the console shows what a token may do)."""
        tokens: TokenBook = request.app.state.runtime.tokens
        try:
            token = tokens.authorize(
                request.headers.get("authorization", ""), "operator", "finance", "support"
            )
        except AccessDenied as refusal:
            raise denied(refusal) from None
        return json_response({"name": token.name, "scopes": sorted(token.scopes)})

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.request_id = request_id_for(request)
        response = await call_next(request)
        response.headers["x-request-id"] = request.state.request_id
        return response

    def render(request: Request, error: AdminError) -> Response:
        rid = getattr(request.state, "request_id", None)
        response = json_response(error_body(error, rid), error.status)
        response.headers.update(error.headers)
        return response

    @app.exception_handler(AdminError)
    async def admin_error(request: Request, exc: AdminError) -> Response:
        return render(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return render(request, MethodNotAllowed(f"{request.method} is not allowed here."))
        return render(request, NotFound(f"Unknown URL {request.url.path}."))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error in %s", title)
        return render(request, AdminError("Internal error; the request_id identifies it."))

    app.include_router(router)
    return app
