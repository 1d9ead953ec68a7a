"""The gateway's routes: parse, call one handler, map the result. Errors map in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..domain.admission import Principal
from ..errors import (
    BadRequest,
    GatewayError,
    MethodNotAllowed,
    NotFound,
    NotReady,
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
    Awaitable[dict[str, Any] | AsyncIterator[bytes]],
]


class Runtime:
    """What the routes read at request time; ``bootstrap`` fills it in the lifespan."""

    deps: Deps
    ready: Callable[[], bool] = staticmethod(lambda: False)
    max_body_bytes: int = 10 * 1024 * 1024
    status: Callable[[], dict[str, Any]] = staticmethod(dict)


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


def _secret(request: Request, anthropic: bool) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    if anthropic or request.headers.get("x-api-key"):
        return request.headers.get("x-api-key") or None
    return None


async def _body(request: Request, limit: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"Request body is larger than {limit} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"Request body is larger than {limit} bytes.")
        chunks.append(chunk)
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise BadRequest(
            "We could not parse the JSON body of your request. Send valid JSON "
            "(UTF-8) with Content-Type: application/json."
        ) from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def _routing(request: Request) -> handlers.Routing:
    zdr = request.headers.get("x-tollway-zdr", "").strip().lower()
    if zdr not in ("", "required", "preferred", "off"):
        raise BadRequest("X-Tollway-ZDR must be `required` when set.", param="X-Tollway-ZDR")
    preference = request.headers.get("x-tollway-router-preference", "balanced").strip().lower()
    return handlers.Routing(preference=preference, zdr_required=zdr == "required")


def build_app(runtime: Runtime, lifespan: Any = None) -> FastAPI:
    app = FastAPI(title="Tollway gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(RequestIdMiddleware)

    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> Response:
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
        principal = authenticate(runtime.deps, _secret(request, anthropic))
        body = await _body(request, runtime.max_body_bytes)
        result = await handler(
            runtime.deps, principal, _request_id(request), _routing(request), body
        )
        if isinstance(result, dict):
            return _json(result)
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

    app.add_route("/v1/chat/completions", route(handlers.chat), methods=["POST"])
    app.add_route("/v1/completions", route(handlers.completions), methods=["POST"])
    app.add_route("/v1/messages", route(handlers.messages, anthropic=True), methods=["POST"])
    app.add_route(
        "/v1/messages/count_tokens",
        route(handlers.count_tokens, anthropic=True),
        methods=["POST"],
    )

    async def _principal(request: Request) -> Principal:
        if not runtime.ready():
            raise NotReady("The gateway is starting.", headers={"Retry-After": "1"})
        return authenticate(runtime.deps, _secret(request, False))

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
        period = {k: v for k, v in request.query_params.items() if k in ("from", "to")}
        return _json(await handlers.usage(runtime.deps, principal, period))

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "ok", "service": "gateway"})

    @app.get("/readyz")
    async def readyz() -> Response:
        ready = runtime.ready()
        return _json({"ready": ready, **runtime.status()}, 200 if ready else 503)

    return app
