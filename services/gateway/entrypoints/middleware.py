"""ASGI middleware: a request_id for every request, on every response (as ``x-request-id``
and ``request-id``).

Pure ASGI (no BaseHTTPMiddleware) so streamed responses pass through untouched
and the per-request cost stays small.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.events import new_id

__all__ = ["RequestIdMiddleware", "new_request_id"]

access = logging.getLogger("tollway.gateway.access")


def new_request_id() -> str:
    """``req_`` + a UUIDv7 in hex: unique and sortable by time."""
    return "req_" + new_id().replace("-", "")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"], state["arrived"] = request_id, time.monotonic()
        # Both names: OpenAI's SDKs read x-request-id, Anthropic's read request-id.
        headers = [(b"x-request-id", request_id.encode()), (b"request-id", request_id.encode())]
        started = time.monotonic()
        status: dict[str, Any] = {}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status.get("code"),
                    "ms": round((time.monotonic() - started) * 1000, 2),
                },
            )
