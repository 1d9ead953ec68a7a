"""The gateway's routes: parse, call one handler, map the result. Errors map in one place."""

from __future__ import annotations

import asyncio
import hmac
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas.events import Surface as SurfaceName
from schemas.money import format_usd

from ..adapters.members_api import MembersApi
from ..adapters.metrics import SpoolSource, exposition, refresh_spool
from ..domain.protocols.surfaces import SURFACES, Surface
from ..domain.standing import Principal
from ..errors import (
    BadRequest,
    GatewayError,
    InvalidApiKey,
    MethodNotAllowed,
    NotFound,
    NotReady,
    RequestTimeout,
    RequestTooLarge,
    anthropic_body,
    openai_body,
)
from ..service_layer import handlers
from ..service_layer.admission import authenticate
from ..service_layer.context import Deps
from .middleware import RequestIdMiddleware

__all__ = ["Runtime", "build_app"]

Handler = Callable[
    [Deps, Principal, str, handlers.Routing, dict[str, Any]],
    Awaitable[handlers.Answered | dict[str, Any] | AsyncIterator[bytes]],
]
#: What a whole answer cost, in USD as text (nano-USD exact), beside ``usage.cost``.
COST_HEADER = "x-tollway-cost-usd"

#: Content types a body may declare (a missing one is read as JSON too).
_JSON_TYPES = ("application/json", "text/json")
#: Anthropic's version and beta names: letters, digits and a few separators.
_HEADER_VALUE = re.compile(r"[A-Za-z0-9,._\- ]{1,1024}")
_FORWARDED = ("anthropic-version", "anthropic-beta")


class Runtime:
    """What the routes read at request time; ``bootstrap`` fills it in the lifespan."""

    deps: Deps
    ready: Callable[[], bool] = staticmethod(lambda: False)
    max_body_bytes: int = 10 * 1024 * 1024
    #: How long a request body may take to arrive once its headers have.
    body_timeout_s: float = 30.0
    status: Callable[[], dict[str, Any]] = staticmethod(dict)
    #: Headers that ask for zero-data-retention routing (``X-Tollway-ZDR`` and any aliases).
    zdr_headers: tuple[str, ...] = ("x-tollway-zdr",)
    #: Who may read ``/metrics``: this bearer token, or (none set) this machine only.
    metrics_token: str | None = None
    #: Where ``/v1/me`` is forwarded (billing's member API).
    members: MembersApi | None = None
    #: What the spool gauges read, refreshed at each scrape.
    spool: SpoolSource | None = None


#: A member API body (a sign-in, a key's settings) is small.
MEMBER_BODY_MAX = 64 * 1024


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers
    )


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def _error_response(request: Request, error: GatewayError) -> Response:
    request_id = _request_id(request)
    body = (
        anthropic_body(error, request_id)
        if request.url.path.startswith("/v1/messages")
        else openai_body(error, request_id)
    )
    return _json(body, error.status, error.headers)


def _headers(request: Request) -> dict[str, str]:
    """Every header, by lowercase name, in one pass (Starlette's ``Headers`` scans the raw list
    on each lookup; a request looks up several). A repeated header keeps its first value."""
    out: dict[str, str] = {}
    for name, value in reversed(request.scope["headers"]):
        out[name.decode("latin-1").lower()] = value.decode("latin-1")
    return out


def _secret(headers: dict[str, str], anthropic: bool) -> str | None:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    if anthropic or headers.get("x-api-key"):
        return headers.get("x-api-key") or None
    return None


async def _raw_body(request: Request, headers: dict[str, str], limit: int, timeout: float) -> bytes:
    """The body as it came: at most ``limit`` bytes, within ``timeout`` of the headers."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"Request body is larger than {limit} bytes.")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise RequestTooLarge(f"Request body is larger than {limit} bytes.")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(
            f"The request body did not arrive within {timeout:g}s of its headers."
        ) from None
    return b"".join(chunks)


async def _body(
    request: Request, headers: dict[str, str], limit: int, timeout: float
) -> dict[str, Any]:
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media not in _JSON_TYPES and not media.endswith("+json"):
        raise BadRequest(
            f"Content-Type {media!r} is not supported: send the body as JSON with "
            "Content-Type: application/json."
        )
    try:
        body = orjson.loads(await _raw_body(request, headers, limit, timeout))
    except orjson.JSONDecodeError:
        raise BadRequest(
            "We could not parse the JSON body of your request. Send valid JSON "
            "(UTF-8) with Content-Type: application/json."
        ) from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def _routing(
    headers: dict[str, str], zdr_headers: tuple[str, ...], anthropic: bool, arrived: float
) -> handlers.Routing:
    required = False
    for name in zdr_headers:
        zdr = headers.get(name, "").strip().lower()
        if zdr not in ("", "required", "preferred", "off"):
            raise BadRequest(f"{name} must be `required` when set.", param=name)
        required = required or zdr == "required"
    preference = headers.get("x-tollway-router-preference", "balanced").strip().lower()
    forwarded = []
    for name in _FORWARDED if anthropic else ():
        value = headers.get(name)
        if value is None:
            continue
        if not _HEADER_VALUE.fullmatch(value):
            raise BadRequest(f"{name} has characters no version or beta name has.", param=name)
        forwarded.append((name, value))
    return handlers.Routing(preference, required, tuple(forwarded), arrived)


#: Route -> the surface it serves.
_SURFACES: dict[str, SurfaceName] = {
    "/v1/chat/completions": "openai.chat",
    "/v1/completions": "openai.completions",
    "/v1/messages": "anthropic.messages",
    "/v1/responses": "openai.responses",
}


def _calling(surface: Surface) -> Handler:
    async def handler(
        deps: Deps, principal: Principal, request_id: str, routing: handlers.Routing, body: Any
    ) -> handlers.Answered | AsyncIterator[bytes]:
        return await handlers.call_model(deps, principal, request_id, routing, body, surface)

    return handler


def build_app(runtime: Runtime, lifespan: Any = None) -> FastAPI:
    app = FastAPI(title="Tollway gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(RequestIdMiddleware)

    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> Response:
        deps = getattr(runtime, "deps", None)
        if deps is not None and exc.status < 500:
            deps.metrics.refused(exc.code)
        return _error_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            error: GatewayError = MethodNotAllowed(
                f"{request.method} is not allowed on {request.url.path}."
            )
            error.headers = dict(exc.headers or {})
        else:
            error = NotFound(
                f"Unknown request URL: {request.method} {request.url.path}. "
                "See the README for the endpoints Tollway serves."
            )
        return _error_response(request, error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        import logging

        logging.getLogger("tollway.gateway").exception(
            "unhandled error", extra={"request_id": _request_id(request)}
        )
        return _error_response(
            request, GatewayError("Internal error; the request_id identifies it.")
        )

    async def serve(request: Request, handler: Handler, anthropic: bool = False) -> Response:
        if not runtime.ready():
            raise NotReady(
                "The gateway is starting: keys and account status are not loaded yet.",
                headers={"Retry-After": "1"},
            )
        headers = _headers(request)
        principal = authenticate(runtime.deps, _secret(headers, anthropic))
        body = await _body(request, headers, runtime.max_body_bytes, runtime.body_timeout_s)
        arrived = request.scope.get("state", {}).get("arrived") or time.monotonic()
        routing = _routing(headers, runtime.zdr_headers, anthropic, arrived)
        result = await handler(runtime.deps, principal, _request_id(request), routing, body)
        if isinstance(result, dict):
            return _json(result)
        if isinstance(result, handlers.Answered):
            cost = {} if result.cost_nano is None else {COST_HEADER: format_usd(result.cost_nano)}
            return _json(result.body, headers=cost)
        return StreamingResponse(
            result,
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    # The serving routes are plain Starlette routes: FastAPI's dependency solving cost
    # ~50 µs a request (measured in-process), and they take nothing but the request.
    def route(
        handler: Handler, anthropic: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await serve(request, handler, anthropic)

        return endpoint

    for path, surface in _SURFACES.items():
        anthropic = SURFACES[surface].anthropic
        app.add_route(path, route(_calling(SURFACES[surface]), anthropic), methods=["POST"])
    app.add_route(
        "/v1/messages/count_tokens",
        route(handlers.count_tokens, anthropic=True),
        methods=["POST"],
    )

    async def _principal(request: Request) -> Principal:
        if not runtime.ready():
            raise NotReady("The gateway is starting.", headers={"Retry-After": "1"})
        return authenticate(runtime.deps, _secret(_headers(request), False))

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        await _principal(request)
        return _json(handlers.models(runtime.deps))

    @app.get("/v1/models/{model_id:path}")
    async def model(request: Request, model_id: str) -> Response:
        await _principal(request)
        return _json(handlers.model_info(runtime.deps, model_id))

    @app.get("/v1/balance")
    async def balance(request: Request) -> Response:
        return _json(handlers.balance(runtime.deps, await _principal(request)))

    @app.get("/v1/usage")
    async def usage(request: Request) -> Response:
        principal = await _principal(request)
        period = {k: v for k, v in request.query_params.items() if k in ("from", "to", "by")}
        return _json(await handlers.usage(runtime.deps, principal, period))

    async def member_api(request: Request) -> Response:
        if runtime.members is None:
            raise NotFound("Member accounts are not served by this gateway.")
        # Only /v1/me goes to billing: no dot segment or escape may walk to another path
        # there (its admin API), whatever the HTTP client in between normalises.
        raw = request.scope.get("raw_path") or request.url.path.encode()
        segments = request.url.path.split("/")
        if b"%" in raw or b"\\" in raw or "." in segments or ".." in segments:
            raise NotFound(f"Unknown URL {request.url.path}.")
        headers = _headers(request)
        body = await _raw_body(request, headers, MEMBER_BODY_MAX, runtime.body_timeout_s)
        status, content, back = await runtime.members.forward(
            request.method,
            request.url.path,
            request.scope.get("query_string", b""),
            headers,
            body,
            _request_id(request),
        )
        return Response(content, status_code=status, headers=back)

    for path in ("/v1/me", "/v1/me/{rest:path}"):
        app.add_route(path, member_api, methods=["GET", "POST", "DELETE"])

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        token = runtime.metrics_token
        given = request.headers.get("authorization", "")
        allowed = (
            hmac.compare_digest(given, f"Bearer {token}")
            if token
            else request.client is not None and request.client.host in ("127.0.0.1", "::1")
        )
        if not allowed:
            raise InvalidApiKey(
                "/metrics needs the gateway's token (TOLLWAY_GATEWAY_TOKEN, else "
                "TOLLWAY_ADMIN_TOKEN) as a Bearer token."
            )
        if runtime.spool is not None:
            refresh_spool(runtime.spool)
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "ok", "service": "gateway"})

    @app.get("/readyz")
    async def readyz() -> Response:
        ready = runtime.ready()
        return _json({"ready": ready, **runtime.status()}, 200 if ready else 503)

    return app
