"""Forwarding an admitted request upstream, with failover, and recording how it ended."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import orjson

from schemas.events import RequestStatus, UsageSource

from ..adapters.upstream import Broken, Rejected, Retryable, UpstreamStream
from ..domain.catalog import Deployment, Model
from ..domain.usage import Usage, count_text
from ..errors import BadRequest, GatewayError, UpstreamError, UpstreamTimeout
from .call import Call
from .renderers import Renderer

__all__ = ["complete", "open_stream", "relay", "upstream_body"]

log = logging.getLogger("tollway.gateway.proxy")
T = TypeVar("T")

#: Parameters the gateway reads itself and never forwards.
_OURS = ("router_preference",)


def upstream_body(body: dict[str, Any], deployment: Deployment, stream: bool) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k not in _OURS}
    out["model"] = deployment.upstream_model
    if stream:
        # Always ask for usage; the renderer drops it if the client did not ask.
        out["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    return out


async def _with_failover(call: Call, attempt: Callable[[Model, Deployment], Awaitable[T]]) -> T:
    last: Retryable | None = None
    for model, deployment in call.admitted.candidates:
        call.model_id, call.deployment = model.id, deployment.name
        try:
            return await attempt(model, deployment)
        except Retryable as exc:
            log.warning(
                "upstream attempt failed",
                extra={
                    "request_id": call.request_id,
                    "deployment": deployment.name,
                    "reason": str(exc),
                },
            )
            last = exc
        except Rejected as exc:
            error = BadRequest(f"The upstream rejected the request: {exc.message}", param=exc.param)
            error.status = exc.status
            raise error from None
    if last is not None and last.timeout:
        raise UpstreamTimeout("The upstream model did not answer in time.")
    raise UpstreamError("The upstream model is unavailable; every deployment failed.")


def _text_of_choices(body: dict[str, Any]) -> str:
    parts = []
    for choice in body.get("choices") or []:
        message = choice.get("message") or {}
        parts.append(str(choice.get("text") or message.get("content") or ""))
        for tool_call in message.get("tool_calls") or []:
            parts.append(str((tool_call.get("function") or {}).get("arguments", "")))
    return "".join(parts)


async def _started(call: Call, attempt: Callable[[Model, Deployment], Awaitable[T]]) -> T:
    """Write ``request.started``, then try the deployments; if none answers, record why the
    request ended before any upstream byte (nothing generated, nothing to charge)."""
    call.start()
    try:
        return await _with_failover(call, attempt)
    except GatewayError as exc:
        call.complete("failed", exc.status, Usage(), "estimated", error_code=exc.code)
        raise
    except BaseException:
        call.complete("cancelled", 499, Usage(), "estimated", error_code="client_closed")
        raise


async def complete(call: Call, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], Usage]:
    """A non-streamed call; returns the upstream's body and the normalised usage."""
    result = await _started(
        call, lambda _m, d: call.deps.upstream.complete(d, path, upstream_body(body, d, False))
    )
    call.first_byte()
    try:
        usage = Usage.from_openai(result.get("usage"))
        source: UsageSource = "upstream"
        if usage is None:
            usage = Usage(call.admitted.prompt_estimate, count_text(_text_of_choices(result)))
            source = "estimated"
        choices = result.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else {}
        finish = _finish_reason(first.get("finish_reason") if isinstance(first, dict) else None)
    except Exception:
        # A 200 whose body Tollway cannot read: still one request.completed, and, as the
        # client gets nothing, nothing to charge.
        log.exception("unreadable upstream answer", extra={"request_id": call.request_id})
        call.complete("failed", 502, Usage(), "estimated", error_code="upstream_error")
        raise UpstreamError("The upstream answered in a shape Tollway cannot read.") from None
    call.complete("succeeded", 200, usage, source, finish_reason=finish)
    return result, usage


def _finish_reason(value: Any) -> str | None:
    """The upstream's finish_reason if it is one (a short string); anything else is dropped,
    as the event that carries it must stay valid for every consumer."""
    return value[:64] if isinstance(value, str) and value else None


async def open_stream(call: Call, path: str, body: dict[str, Any]) -> UpstreamStream:
    """Open the upstream stream, failing over until one answers 200."""
    return await _started(
        call, lambda _m, d: call.deps.upstream.stream(d, path, upstream_body(body, d, True))
    )


def _delta_text(chunk: dict[str, Any]) -> str:
    parts = []
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        parts.append(str(choice.get("text") or delta.get("content") or ""))
        for tool_call in delta.get("tool_calls") or []:
            parts.append(str((tool_call.get("function") or {}).get("arguments") or ""))
    return "".join(parts)


async def relay(call: Call, stream: UpstreamStream, renderer: Renderer) -> AsyncIterator[bytes]:
    """Relay the upstream stream through ``renderer``; record the ending, whatever it is."""
    usage: Usage | None = None
    finish: str | None = None
    generated: list[str] = []
    status: RequestStatus = "succeeded"
    http_status, code = 200, None
    try:
        for piece in renderer.head():
            yield piece
        done = False
        async for batch in stream.batches():
            out: list[bytes] = []
            for data in batch:
                if data == b"[DONE]":
                    done = True
                    break
                chunk = orjson.loads(data)
                if chunk.get("usage"):
                    usage = Usage.from_openai(chunk["usage"])
                for choice in chunk.get("choices") or []:
                    finish = _finish_reason(choice.get("finish_reason")) or finish
                generated.append(_delta_text(chunk))
                out.extend(renderer.chunk(chunk, data))
            call.first_byte()
            if out:
                yield b"".join(out)  # what arrived together leaves together
            if done:
                break
        if not done and usage is None and finish is None:
            raise Broken("upstream stream ended without [DONE]")
        yield b"".join(renderer.tail(usage or _estimate(call, generated)))
    except Exception as exc:  # broken, stalled, or chunks Tollway cannot read
        if isinstance(exc, Broken):
            why = str(exc)
        else:
            log.exception("unreadable upstream chunk", extra={"request_id": call.request_id})
            why = "a chunk Tollway cannot read"
        timeout = isinstance(exc, Broken) and exc.timeout
        error: GatewayError = (UpstreamTimeout if timeout else UpstreamError)(
            "The upstream stream ended early: " + why
        )
        status, http_status, code = "failed", error.status, error.code
        yield renderer.error(error, call.request_id)
    except (asyncio.CancelledError, GeneratorExit):
        status, http_status, code = "cancelled", 499, "client_closed"
        raise
    finally:
        await _quietly_close(stream)
        final = usage or _estimate(call, generated)
        call.complete(
            status,
            http_status,
            final,
            "upstream" if usage else "estimated",
            error_code=code,
            finish_reason=finish,
        )


def _estimate(call: Call, generated: list[str]) -> Usage:
    return Usage(call.admitted.prompt_estimate, count_text("".join(generated)))


async def _quietly_close(stream: UpstreamStream) -> None:
    try:
        await stream.close()
    except Exception:  # closing a broken connection may fail; the call is over either way
        log.debug("closing upstream stream failed", exc_info=True)
