"""The gateway's HTTP/1.1 server protocol: uvicorn's (httptools), with the limits a server
facing the internet sets, and its refusals in the API's own error shape.

uvicorn alone takes a header of any size and any number of headers, keeps a connection
that never finishes its request head open forever, and answers a malformed request with a
plain-text 400. Here, per connection:

- the request head (request line and headers) may be at most ``max_header_bytes`` with at
  most ``max_headers`` headers: else 431;
- it must arrive within ``header_timeout_s`` of the connection opening, or of its first
  byte on a kept-alive connection (a client sending a byte a second is cut off; so is one
  that connects and sends nothing): else 408;
- at most ``max_connections`` are open at once: the next gets 503 and is closed;
- a request the HTTP parser refuses (a control character in a header…) gets a 400.

Each refusal is JSON in the OpenAI shape (Anthropic's on ``/v1/messages``) with a
request_id, on a connection then closed the way nginx's ``lingering_close`` does: the
gateway stops writing, drops what the client is still sending for up to ``linger_s``, then
closes. Closing at once with unread input makes the kernel answer with a reset, and a
client still sending its head may then lose the refusal it was sent. A kept-alive
connection idle between requests is closed quietly after uvicorn's ``timeout_keep_alive``
(``TOLLWAY_KEEPALIVE_S``), which is longer than clients' and load balancers' own idle
limits so that they, not the gateway, close first: a server closing a connection at the
moment a client reuses it fails that request. A body that stops arriving is the route's to
time out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..errors import (
    BadRequest,
    GatewayError,
    RequestHeadersTooLarge,
    RequestTimeout,
    TooManyConnections,
    anthropic_body,
    openai_body,
)
from .middleware import new_request_id

__all__ = ["GuardedHttpToolsProtocol", "Limits"]


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    header_timeout_s: float = 10.0
    max_connections: int = 1024
    linger_s: float = 2.0


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that is being refused."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[Limits] = Limits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Awaiting a request head: from the connection's start, and from the end of each
        # request's body. The head timer runs only while also no response is in progress.
        self._in_head, self._responded = True, True
        self._head_bytes, self._header_count = 0, 0
        self._refusal: GatewayError | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        if len(self.connections) > self.limits.max_connections:
            self._refuse(TooManyConnections("Too many open connections."))
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_late)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            message = f"The request head did not arrive within {self.limits.header_timeout_s:g}s."
            self._refuse(RequestTimeout(message))

    def data_received(self, data: bytes) -> None:
        if self._linger_timer is not None or self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        if self._in_head:
            if not self._head_bytes and self._responded and self._head_timer is None:
                self._arm_head_timer()  # a kept-alive connection's next request begins
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            self._refuse(self._refusal or BadRequest("The HTTP request is malformed."))
            return
        # Still in the head after all this: a head this long is refused (judged a read at a
        # time, so a head and the start of its body arriving together are not).
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(self._head_too_large())

    def _head_too_large(self) -> GatewayError:
        return RequestHeadersTooLarge(
            f"The request's headers are larger than {self.limits.max_header_bytes} bytes or "
            f"more than {self.limits.max_headers}.",
        )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._header_count = True, 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refusal = self._head_too_large()
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head, self._responded, self._head_bytes = False, False, 0
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0  # what comes next is the next request

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._responded = True
        # Idle from here is keep-alive (uvicorn's timer); a next head already arriving, sent
        # before this response ended, is timed from now.
        if self._in_head and self._head_bytes and not self.transport.is_closing():
            self._arm_head_timer()

    def _refuse(self, refusal: GatewayError) -> None:
        """Answer ``refusal`` in the API's shape and close the connection."""
        self._disarm_head_timer()
        request_id = new_request_id()
        anthropic = bytes(getattr(self, "url", b"") or b"").startswith(b"/v1/messages")
        payload: dict[str, Any] = (
            anthropic_body(refusal, request_id) if anthropic else openai_body(refusal, request_id)
        )
        content = orjson.dumps(payload)
        head = (
            f"HTTP/1.1 {refusal.status} {HTTPStatus(refusal.status).phrase}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(content)}\r\n"
            f"x-request-id: {request_id}\r\nrequest-id: {request_id}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode("latin-1") + content)
        # Lingering close: the refusal goes out followed by a FIN; input is read and dropped
        # (data_received) until the client closes too or linger_s passes.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.transport.resume_reading()
        self._linger_timer = self.loop.call_later(self.limits.linger_s, self.transport.close)
