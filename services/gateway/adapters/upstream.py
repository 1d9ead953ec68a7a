"""Calls to upstream deployments over one pooled transport, with each kind's headers.

httpx's errors stop here: callers see ``Retryable`` (connection refused or
reset, 5xx, 429, timeout before the first byte: try the next deployment) or
``Rejected`` (a 4xx about the request itself: no other deployment will do
better, so it goes back to the client), or ``Broken`` mid-stream.

Authentication by kind: OpenAI's kinds take ``Authorization: Bearer``; Anthropic takes
``x-api-key`` and an ``anthropic-version`` (the client's, when it sent one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

from ..domain.catalog import Deployment
from ..service_layer.ports import Broken, Rejected, Retryable, UpstreamRequest
from .transport import PooledTransport, Reply, Target

__all__ = ["HttpUpstream", "HttpUpstreamStream"]

#: The Messages API version sent to Anthropic upstreams when the client named none.
ANTHROPIC_VERSION = "2023-06-01"


def _headers(kind: str, key: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json", "user-agent": "tollway-gateway"}
    if kind == "anthropic":
        if key:
            headers["x-api-key"] = key
    elif key:
        headers["authorization"] = f"Bearer {key}"
    return headers


def _extra(kind: str, headers: tuple[tuple[str, str], ...]) -> bytes:
    names = {name for name, _ in headers}
    if kind == "anthropic" and "anthropic-version" not in names:
        headers = (*headers, ("anthropic-version", ANTHROPIC_VERSION))
    return b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers)


def _error_of(status: int, content: bytes) -> Exception:
    """OpenAI's ``{"error": {...}}`` and Anthropic's ``{"type": "error", "error": {...}}``
    both carry the message and param in ``error``."""
    message, param = f"upstream answered {status}", None
    try:
        error = orjson.loads(content).get("error") or {}
        message, param = str(error.get("message") or message), error.get("param")
    except (orjson.JSONDecodeError, AttributeError):
        pass
    param = param if isinstance(param, str) else None
    if status >= 500 or status in (401, 403, 404, 408, 429):
        # 401/403/404: our deployment's key or model name is wrong, not the client's request.
        return Retryable(f"upstream {status}: {message}")
    return Rejected(status, message, param)


@contextmanager
def _retryable() -> Iterator[None]:
    """The transport's failures before the answer is complete, as ``Retryable``."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise Retryable(f"upstream timed out: {type(exc).__name__}", timeout=True) from None
    except httpx.HTTPError as exc:
        raise Retryable(f"upstream unreachable: {type(exc).__name__}") from None


class HttpUpstreamStream:
    """An open streaming response: iterate ``data:`` payloads, then ``close()``."""

    def __init__(self, reply: Reply) -> None:
        self._reply = reply

    async def batches(self) -> AsyncIterator[list[bytes]]:
        """The ``data:`` payloads, grouped as they arrived: one list per network read, so a
        relay can write together what came together. SSE is parsed as bytes (httpx's
        aiter_lines would decode to str for us to re-encode)."""
        pending = b""
        try:
            async for piece in self._reply.body:
                lines = (pending + piece).split(b"\n")
                pending = lines.pop()
                batch = [line[5:].strip() for line in lines if line.startswith(b"data:")]
                if batch:
                    yield batch
            if pending.startswith(b"data:"):
                yield [pending[5:].strip()]
        except httpx.TimeoutException as exc:
            raise Broken(f"upstream stalled: {type(exc).__name__}", timeout=True) from None
        except httpx.HTTPError as exc:
            raise Broken(f"upstream stream broke: {type(exc).__name__}") from None

    async def close(self) -> None:
        await self._reply.body.aclose()


class HttpUpstream:
    def __init__(self, transport: PooledTransport | None = None) -> None:
        self._transport = transport or PooledTransport()
        self._targets: dict[tuple[str, str, str, str | None], Target] = {}

    async def _send(self, deployment: Deployment, request: UpstreamRequest) -> Reply:
        key = deployment.api_key
        where = (deployment.kind, deployment.base_url, request.path, key)
        target = self._targets.get(where)
        if target is None:
            target = self._targets[where] = self._transport.target(
                deployment.base_url + request.path, _headers(deployment.kind, key)
            )
        extra = _extra(deployment.kind, request.headers)
        with _retryable():
            return await self._transport.send(
                target, orjson.dumps(request.body), deployment.timeout_s, extra
            )

    async def complete(self, deployment: Deployment, request: UpstreamRequest) -> dict[str, Any]:
        reply = await self._send(deployment, request)
        try:
            with _retryable():
                content = await reply.body.read()
        finally:
            await reply.body.aclose()
        if reply.status != 200:
            raise _error_of(reply.status, content)
        try:
            parsed = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise Retryable("upstream answered with invalid JSON") from None
        if not isinstance(parsed, dict):
            raise Retryable("upstream answered with a non-object")
        return parsed

    async def stream(self, deployment: Deployment, request: UpstreamRequest) -> HttpUpstreamStream:
        reply = await self._send(deployment, request)
        if reply.status != 200:
            try:
                content = await reply.body.read()
            except httpx.HTTPError:
                content = b""
            finally:
                await reply.body.aclose()
            raise _error_of(reply.status, content)
        return HttpUpstreamStream(reply)

    async def close(self) -> None:
        await self._transport.aclose()
