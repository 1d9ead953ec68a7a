"""Forwarding an admitted call upstream, with failover, and recording how it ended."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import orjson

from schemas.events import RequestStatus, UsageSource
from schemas.money import format_usd

from ..domain.catalog import Deployment, Model
from ..domain.conversation import Answer, Text, ToolCall
from ..domain.protocols._sse import UpstreamStreamError
from ..domain.protocols.surfaces import PassWriter, Writer
from ..domain.usage import Usage, count_text
from ..errors import BadRequest, GatewayError, UpstreamError, UpstreamTimeout
from .call import Call
from .exchange import Exchange
from .ports import Broken, Rejected, Retryable, UpstreamStream
from .stream_errors import stream_error

__all__ = ["Answered", "complete", "open_stream", "relay"]

log = logging.getLogger("tollway.gateway.proxy")
T = TypeVar("T")


async def _with_failover(call: Call, attempt: Callable[[Model, Deployment], Awaitable[T]]) -> T:
    last: Retryable | None = None
    for model, deployment in call.admitted.candidates:
        call.serve_with(model, deployment)
        try:
            return await attempt(model, deployment)
        except Retryable as exc:
            call.deps.metrics.failover(deployment.name)
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
            error = BadRequest(exc.message, param=exc.param)
            error.status = exc.status
            raise error from None
    if last is not None and last.timeout:
        raise UpstreamTimeout("The upstream model did not answer in time.")
    raise UpstreamError("The upstream model is unavailable; every deployment failed.")


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


def _generated(answer: Answer) -> str:
    return "".join(
        p.text if isinstance(p, Text) else p.arguments if isinstance(p, ToolCall) else p.text
        for p in answer.parts
    )


@dataclass(frozen=True)
class Answered:
    """A whole answer in the surface's shape, and what it costs (None: no price known)."""

    body: dict[str, Any]
    cost_nano: int | None


def _with_cost(body: dict[str, Any], cost_nano: int | None) -> dict[str, Any]:
    """``usage.cost`` in USD, as OpenRouter reports it: a JSON number, written exactly."""
    usage = body.get("usage")
    if cost_nano is not None and isinstance(usage, dict):
        usage["cost"] = orjson.Fragment(format_usd(cost_nano).encode())
    return body


async def complete(call: Call, exchange: Exchange) -> Answered:
    """A non-streamed call; returns the answer in the surface's shape, and its cost."""
    body = await _started(call, lambda m, d: call.deps.upstream.complete(d, exchange.request(m, d)))
    call.first_byte()
    deployment = call.serving
    try:
        answer = exchange.read(deployment, body)
        usage: Usage | None = answer.usage
        source: UsageSource = "upstream"
        if usage is None:
            usage = Usage(call.admitted.prompt_estimate, count_text(_generated(answer)))
            source = "estimated"
        rendered = exchange.render(deployment, body, answer, usage)
    except Exception:
        # A 200 whose body Tollway cannot read: still one request.completed, and, as the
        # client gets nothing, nothing to charge.
        log.exception("unreadable upstream answer", extra={"request_id": call.request_id})
        call.complete("failed", 502, Usage(), "estimated", error_code="upstream_error")
        raise UpstreamError("The upstream answered in a shape Tollway cannot read.") from None
    call.complete("succeeded", 200, usage, source, finish_reason=answer.stop)
    cost = call.cost_nano(usage)
    return Answered(_with_cost(rendered, cost), cost)


async def open_stream(call: Call, exchange: Exchange) -> UpstreamStream:
    """Open the upstream stream, failing over until one answers 200."""
    return await _started(call, lambda m, d: call.deps.upstream.stream(d, exchange.request(m, d)))


async def relay(call: Call, exchange: Exchange, stream: UpstreamStream) -> AsyncIterator[bytes]:
    """Relay the upstream stream in the surface's shape; record the ending, whatever it is."""
    deployment = call.serving
    reader = exchange.reader(deployment)
    writer = exchange.writer(deployment)
    writer.costing.price = call.cost_nano
    writer.costing.current = lambda: reader.usage
    passthrough = exchange.passes_through(deployment)
    status: RequestStatus = "succeeded"
    http_status, code = 200, None
    try:
        head = writer.head()
        if head:
            yield head
        done = False
        async for batch in stream.batches():
            out: list[bytes] = []
            for data in batch:
                if data == b"[DONE]":
                    done = True
                    break
                event = orjson.loads(data)
                if passthrough:
                    reader.tally(event)
                    out.append(cast(PassWriter, writer).write(event, data))
                else:
                    out.extend(cast(Writer, writer).write(e) for e in reader.feed(event))
            call.first_byte()
            if out:
                yield b"".join(out)  # what arrived together leaves together
            if done:
                break
        if not (done or reader.finished) and reader.usage is None and reader.stop is None:
            raise Broken("upstream stream ended without finishing")
        yield writer.tail(reader.usage or _estimate(call, reader.generated))
    except Exception as exc:  # broken, stalled, failed, or events Tollway cannot read
        if isinstance(exc, Broken | UpstreamStreamError):
            why = str(exc)
        else:
            log.exception("unreadable upstream event", extra={"request_id": call.request_id})
            why = "an event Tollway cannot read"
        timeout = isinstance(exc, Broken) and exc.timeout
        error: GatewayError = (UpstreamTimeout if timeout else UpstreamError)(
            "The upstream stream ended early: " + why
        )
        status, http_status, code = "failed", error.status, error.code
        yield stream_error(exchange.surface, writer, error, call.request_id)
    except (asyncio.CancelledError, GeneratorExit):
        status, http_status, code = "cancelled", 499, "client_closed"
        raise
    finally:
        await _quietly_close(stream)
        call.complete(
            status,
            http_status,
            reader.usage or _estimate(call, reader.generated),
            "upstream" if reader.usage else "estimated",
            error_code=code,
            finish_reason=reader.stop,
        )


def _estimate(call: Call, generated: list[str]) -> Usage:
    return Usage(call.admitted.prompt_estimate, count_text("".join(generated)))


async def _quietly_close(stream: UpstreamStream) -> None:
    try:
        await stream.close()
    except Exception:  # closing a broken connection may fail; the call is over either way
        log.debug("closing upstream stream failed", exc_info=True)
