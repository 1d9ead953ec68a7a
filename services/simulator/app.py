"""An upstream for local runs and tests that speaks the three kinds Tollway calls: OpenAI chat
(and legacy completions), OpenAI Responses and Anthropic Messages. Real token counts, no
model.

``/_sim/*`` lets a test inject faults, script tool calls and read counters.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.routing import Route

from .asks import Ask, BadRequest, read_chat, read_completion, read_messages, read_responses
from .faults import Fault, FaultBook
from .generation import Plan, PromptCaches, Script, ScriptBook, plan
from .render_anthropic import anthropic_body, anthropic_events
from .render_openai import openai_body, openai_chunks
from .render_responses import response_body, response_events
from .responses import error_body, new_id, sse
from .settings import SimSettings

__all__ = ["create_app"]


class _DroppedStream(Exception):
    """Raised inside a streaming body to cut the connection mid-stream."""


@dataclass
class Simulator:
    cfg: SimSettings
    caches: PromptCaches
    faults: FaultBook = field(default_factory=lambda: FaultBook([]))
    scripts: ScriptBook = field(default_factory=ScriptBook)
    stats: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("requests", "streams_completed", "streams_dropped", "streams_cancelled"), 0
        )
    )


class ScriptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = {}
    count: int = Field(default=1, ge=1)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _sim(request: Request) -> Simulator:
    state: Simulator = request.app.state.sim
    return state


def _error(kind: str, status: int, message: str, code: str | None, param: str | None) -> Response:
    if kind == "messages":
        err_type = "api_error" if status >= 500 else "invalid_request_error"
        return _json({"type": "error", "error": {"type": err_type, "message": message}}, status)
    err_type = "server_error" if status >= 500 else "invalid_request_error"
    return _json(error_body(message, err_type, code, param), status)


def _header_fault(request: Request) -> Fault | None:
    h = request.headers
    if "x-sim-fail-status" in h:
        return Fault(mode="status", status=int(h["x-sim-fail-status"]))
    if "x-sim-hang" in h:
        return Fault(mode="timeout", hang_seconds=float(h["x-sim-hang"]))
    if "x-sim-drop-after" in h:
        return Fault(mode="drop", after_chunks=int(h["x-sim-drop-after"]))
    return None


def _header_float(request: Request, name: str, default: float) -> float:
    value = request.headers.get(name)
    return float(value) if value is not None else default


_READERS: dict[str, Callable[[dict[str, Any]], Ask]] = {
    "chat": read_chat,
    "text": read_completion,
    "messages": read_messages,
    "responses": read_responses,
}


async def _handle(request: Request, kind: str) -> Response:
    sim = _sim(request)
    cfg = sim.cfg
    sim.stats["requests"] += 1
    if cfg.api_key and cfg.api_key not in (
        request.headers.get("authorization", "").removeprefix("Bearer "),
        request.headers.get("x-api-key"),
    ):
        return _error(kind, 401, "Incorrect API key provided", "invalid_api_key", None)
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return _error(kind, 400, "body is not valid JSON", None, None)
    if not isinstance(body, dict):
        return _error(kind, 400, "body must be a JSON object", None, None)
    model = body.get("model")
    if model not in cfg.models:
        return _error(kind, 404, f"The model `{model}` does not exist", "model_not_found", "model")
    fault = _header_fault(request) or sim.faults.take(model)
    if fault is not None and fault.mode == "status":
        return _error(
            kind, fault.status, f"simulated upstream failure {fault.status}", "simulated", None
        )
    if fault is not None and fault.mode == "timeout":
        await asyncio.sleep(fault.hang_seconds)
        return _error(kind, 504, "simulated timeout", None, None)
    output = int(request.headers.get("x-sim-output-tokens", cfg.output_tokens))
    try:
        ask = _READERS[kind](body)
        answer = plan(ask, sim.caches, sim.scripts, output)
    except BadRequest as exc:
        return _error(kind, 400, str(exc), None, exc.param)
    ttft = _header_float(request, "x-sim-ttft-ms", cfg.ttft_ms) / 1000
    delay = _header_float(request, "x-sim-token-delay-ms", cfg.token_delay_ms) / 1000
    if fault is not None and fault.mode == "slow":
        delay = fault.token_delay_ms / 1000
    mode = fault.mode if fault is not None else None
    reported = cfg.report_model or model
    if not ask.stream:
        await asyncio.sleep(ttft + delay * max(len(answer.pieces) - 1, 0))
        if mode == "unreadable":
            return _json({"id": new_id("chatcmpl"), "choices": "nope", "usage": 5})
        whole = _body(kind, reported, answer, ask)
        return _json(_garbled(whole) if mode == "garbled" else whole)
    chunks = _stream(kind, reported, answer, ask)
    if mode == "garbled":
        chunks = [_garble_chunk(c) for c in chunks]
    elif mode == "unreadable":
        chunks.insert(1, b"data: [1, 2]\n\n")
    drop_after = fault.after_chunks if fault is not None and fault.mode == "drop" else None
    paced = _paced(sim, chunks, ttft, delay, drop_after)
    return StreamingResponse(paced, media_type="text/event-stream")


def _body(kind: str, model: str, answer: Plan, ask: Ask) -> dict[str, Any]:
    if kind == "messages":
        return anthropic_body(model, answer, new_id("msg"))
    if kind == "responses":
        return response_body(model, answer, ask.encrypted_reasoning)
    return openai_body(kind, model, answer)


def _stream(kind: str, model: str, answer: Plan, ask: Ask) -> list[bytes]:
    if kind == "messages":
        return anthropic_events(model, answer, new_id("msg"))
    if kind == "responses":
        return response_events(model, answer, ask.encrypted_reasoning)
    return openai_chunks(kind, model, answer, ask.include_usage)


async def _paced(
    sim: Simulator, chunks: list[bytes], ttft: float, delay: float, drop_after: int | None
) -> AsyncIterator[bytes]:
    try:
        for i, chunk in enumerate(chunks):
            if drop_after is not None and i >= drop_after:
                sim.stats["streams_dropped"] += 1
                raise _DroppedStream("simulated drop")
            pause = ttft if i == 0 else delay
            if pause:
                await asyncio.sleep(pause)
            yield chunk
    except (asyncio.CancelledError, GeneratorExit):
        sim.stats["streams_cancelled"] += 1  # the caller went away mid-stream
        raise
    sim.stats["streams_completed"] += 1


def _garbled(answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` with a usage and finish/stop reasons no upstream should send."""
    for choice in answer.get("choices") or []:
        if choice.get("finish_reason") is not None:
            choice["finish_reason"] = 7
    if answer.get("stop_reason") is not None:
        answer["stop_reason"] = 7
    if answer.get("usage") is not None:
        answer["usage"] = {
            "prompt_tokens": "many",
            "completion_tokens": -3,
            "input_tokens": "many",
            "output_tokens": -3,
        }
    return answer


def _garble_chunk(chunk: bytes) -> bytes:
    head, sep, data = chunk.partition(b"data: ")
    if not sep or data.startswith(b"[DONE]"):
        return chunk
    event = orjson.loads(data)
    for inner in ("message", "response"):  # Anthropic's and Responses' usage live inside
        if isinstance(event.get(inner), dict):
            _garbled(event[inner])
    return head + sse(_garbled(event))


async def chat(request: Request) -> Response:
    return await _handle(request, "chat")


async def completions(request: Request) -> Response:
    return await _handle(request, "text")


async def messages(request: Request) -> Response:
    return await _handle(request, "messages")


async def responses(request: Request) -> Response:
    return await _handle(request, "responses")


async def count_tokens(request: Request) -> Response:
    try:
        ask = read_messages({**orjson.loads(await request.body()), "max_tokens": 1})
    except (orjson.JSONDecodeError, BadRequest, AttributeError, TypeError) as exc:
        return _error("messages", 400, f"cannot count this body: {exc}", None, None)
    return _json({"input_tokens": len(ask.prompt)})


async def models(request: Request) -> Response:
    data = [
        {"id": m, "object": "model", "created": 0, "owned_by": "tollway-simulator"}
        for m in _sim(request).cfg.models
    ]
    return _json({"object": "list", "data": data})


async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})


_M = TypeVar("_M", bound=BaseModel)


async def _body_of(model: type[_M], request: Request) -> _M | Response:
    """The request's body as ``model``, or the 422 that says why not."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        return _json({"detail": exc.errors(include_url=False)}, 422)


async def faults(request: Request) -> Response:
    book = _sim(request).faults
    if request.method == "GET":
        return _json([f.model_dump() for f in book.faults])
    if request.method == "DELETE":
        book.faults.clear()
        return Response(status_code=204)
    fault = await _body_of(Fault, request)
    if isinstance(fault, Response):
        return fault
    book.faults.append(fault)
    return _json(fault.model_dump(), 201)


async def script(request: Request) -> Response:
    """Queue a tool call: the next ``count`` requests offering ``tool`` call it."""
    book = _sim(request).scripts
    if request.method == "DELETE":
        book.scripts.clear()
        return Response(status_code=204)
    step = await _body_of(ScriptIn, request)
    if isinstance(step, Response):
        return step
    book.scripts.append(Script(step.tool, step.arguments, step.count))
    return _json(step.model_dump(), 201)


async def stats(request: Request) -> Response:
    return _json(_sim(request).stats)


async def reset(request: Request) -> Response:
    sim = _sim(request)
    sim.faults.faults.clear()
    sim.scripts.scripts.clear()
    sim.stats.update(dict.fromkeys(sim.stats, 0))
    return Response(status_code=204)


ROUTES = [
    Route("/v1/chat/completions", chat, methods=["POST"]),
    Route("/v1/completions", completions, methods=["POST"]),
    Route("/v1/messages", messages, methods=["POST"]),
    Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
    Route("/v1/responses", responses, methods=["POST"]),
    Route("/v1/models", models, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/_sim/script", script, methods=["POST", "DELETE"]),
    Route("/_sim/stats", stats, methods=["GET"]),
    Route("/_sim/reset", reset, methods=["POST"]),
]


def create_app(settings: SimSettings | None = None) -> FastAPI:
    cfg = settings or SimSettings()
    app = FastAPI(title="Tollway upstream simulator", docs_url=None, redoc_url=None)
    app.router.routes.extend(ROUTES)
    app.state.sim = Simulator(cfg, PromptCaches(cfg.cache_block))
    return app
