"""An OpenAI-compatible upstream for local runs and tests: real token counts, no model.

Serves ``/v1/chat/completions``, ``/v1/completions`` and ``/v1/models``,
streaming or not. ``/_sim/*`` lets a test inject faults and read counters.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from .faults import Fault, FaultBook
from .generation import BadRequest, Plan, plan_chat, plan_completion
from .responses import chat_chunk, error_body, new_id, now, sse, usage
from .settings import SimSettings
from .tokens import PrefixCache

__all__ = ["create_app"]


class _DroppedStream(Exception):
    """Raised inside a streaming body to cut the connection mid-stream."""


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _header_float(request: Request, name: str, default: float) -> float:
    value = request.headers.get(name)
    return float(value) if value is not None else default


def create_app(settings: SimSettings | None = None) -> FastAPI:
    cfg = settings or SimSettings()
    app = FastAPI(title="Tollway upstream simulator", docs_url=None, redoc_url=None)
    cache = PrefixCache(cfg.cache_block)
    faults = FaultBook([])
    stats = {"requests": 0, "streams_completed": 0, "streams_dropped": 0, "streams_cancelled": 0}

    def header_fault(request: Request) -> Fault | None:
        h = request.headers
        if "x-sim-fail-status" in h:
            return Fault(mode="status", status=int(h["x-sim-fail-status"]))
        if "x-sim-hang" in h:
            return Fault(mode="timeout", hang_seconds=float(h["x-sim-hang"]))
        if "x-sim-drop-after" in h:
            return Fault(mode="drop", after_chunks=int(h["x-sim-drop-after"]))
        return None

    async def handle(request: Request, kind: str) -> Response:
        stats["requests"] += 1
        if cfg.api_key and request.headers.get("authorization") != f"Bearer {cfg.api_key}":
            return _json(
                error_body(
                    "Incorrect API key provided", "invalid_request_error", "invalid_api_key"
                ),
                401,
            )
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _json(error_body("body is not valid JSON", "invalid_request_error"), 400)
        if not isinstance(body, dict):
            return _json(error_body("body must be a JSON object", "invalid_request_error"), 400)
        model = body.get("model")
        if model not in cfg.models:
            return _json(
                error_body(
                    f"The model `{model}` does not exist",
                    "invalid_request_error",
                    "model_not_found",
                    "model",
                ),
                404,
            )
        fault = header_fault(request) or faults.take(model)
        if fault is not None and fault.mode == "status":
            return _json(
                error_body(
                    f"simulated upstream failure {fault.status}", "server_error", "simulated"
                ),
                fault.status,
            )
        if fault is not None and fault.mode == "timeout":
            await asyncio.sleep(fault.hang_seconds)
            return _json(error_body("simulated timeout", "server_error"), 504)
        try:
            plan = (plan_chat if kind == "chat" else plan_completion)(
                body, cache, int(request.headers.get("x-sim-output-tokens", cfg.output_tokens))
            )
        except BadRequest as exc:
            return _json(error_body(str(exc), "invalid_request_error", None, exc.param), 400)
        ttft = _header_float(request, "x-sim-ttft-ms", cfg.ttft_ms) / 1000
        delay = _header_float(request, "x-sim-token-delay-ms", cfg.token_delay_ms) / 1000
        if fault is not None and fault.mode == "slow":
            delay = fault.token_delay_ms / 1000
        mode = fault.mode if fault is not None else None
        if not body.get("stream"):
            await asyncio.sleep(ttft + delay * max(len(plan.pieces) - 1, 0))
            if mode == "unreadable":
                return _json({"id": new_id("chatcmpl"), "choices": "nope", "usage": 5})
            full = _full(kind, model, plan)
            return _json(_garbled(full) if mode == "garbled" else full)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        drop_after = fault.after_chunks if fault is not None and fault.mode == "drop" else None
        chunks = _chunks(kind, model, plan, include_usage)
        if mode == "garbled":
            chunks = [
                c if c.startswith(b"data: [DONE]") else sse(_garbled(orjson.loads(c[6:])))
                for c in chunks
            ]
        elif mode == "unreadable":
            chunks.insert(1, b"data: [1, 2]\n\n")
        return StreamingResponse(
            _paced(chunks, ttft, delay, drop_after), media_type="text/event-stream"
        )

    async def _paced(
        chunks: list[bytes], ttft: float, delay: float, drop_after: int | None
    ) -> AsyncIterator[bytes]:
        try:
            for i, chunk in enumerate(chunks):
                if drop_after is not None and i >= drop_after:
                    stats["streams_dropped"] += 1
                    raise _DroppedStream("simulated drop")
                pause = ttft if i == 0 else delay
                if pause:
                    await asyncio.sleep(pause)
                yield chunk
        except (asyncio.CancelledError, GeneratorExit):
            stats["streams_cancelled"] += 1  # the caller went away mid-stream
            raise
        stats["streams_completed"] += 1

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        return await handle(request, "chat")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await handle(request, "text")

    @app.get("/v1/models")
    async def models() -> Response:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "tollway-simulator"}
            for m in cfg.models
        ]
        return _json({"object": "list", "data": data})

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/_sim/faults")
    async def list_faults() -> Response:
        return _json([f.model_dump() for f in faults.faults])

    @app.post("/_sim/faults")
    async def add_fault(fault: Fault) -> Response:
        faults.faults.append(fault)
        return _json(fault.model_dump(), 201)

    @app.delete("/_sim/faults")
    async def clear_faults() -> Response:
        faults.faults.clear()
        return Response(status_code=204)

    @app.get("/_sim/stats")
    async def get_stats() -> Response:
        return _json(stats)

    @app.post("/_sim/reset")
    async def reset() -> Response:
        faults.faults.clear()
        stats.update(dict.fromkeys(stats, 0))
        return Response(status_code=204)

    return app


def _garbled(answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` with a usage and finish_reasons no upstream should send."""
    for choice in answer.get("choices") or []:
        if choice.get("finish_reason") is not None:
            choice["finish_reason"] = 7
    if answer.get("usage") is not None:
        answer["usage"] = {"prompt_tokens": "many", "completion_tokens": -3}
    return answer


def _full(kind: str, model: str, plan: Plan) -> dict[str, Any]:
    text = "".join(plan.pieces)
    use = usage(plan.prompt_tokens, plan.completion_tokens, plan.cached_tokens)
    if kind == "text":
        choices: list[dict[str, Any]] = [
            {"index": i, "text": text, "logprobs": None, "finish_reason": plan.finish_reason}
            for i in range(plan.n)
        ]
        return {
            "id": new_id("cmpl"),
            "object": "text_completion",
            "created": now(),
            "model": model,
            "choices": choices,
            "usage": use,
        }
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if plan.tool_call is not None:
        message["tool_calls"] = [plan.tool_call]
    choices = [
        {"index": i, "message": message, "logprobs": None, "finish_reason": plan.finish_reason}
        for i in range(plan.n)
    ]
    return {
        "id": new_id("chatcmpl"),
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": choices,
        "usage": use,
        "system_fingerprint": "fp_sim",
    }


def _chunks(kind: str, model: str, plan: Plan, include_usage: bool) -> list[bytes]:
    """Every SSE event of a streamed answer, ``data: [DONE]`` last."""
    cid, created = new_id("chatcmpl" if kind == "chat" else "cmpl"), now()
    use = usage(plan.prompt_tokens, plan.completion_tokens, plan.cached_tokens)
    out: list[bytes] = []
    if kind == "text":
        for piece in plan.pieces:
            out.append(
                sse(
                    {
                        "id": cid,
                        "object": "text_completion",
                        "created": created,
                        "model": model,
                        "choices": [
                            {"index": i, "text": piece, "logprobs": None, "finish_reason": None}
                            for i in range(plan.n)
                        ],
                    }
                )
            )
        out.append(
            sse(
                {
                    "id": cid,
                    "object": "text_completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": i,
                            "text": "",
                            "logprobs": None,
                            "finish_reason": plan.finish_reason,
                        }
                        for i in range(plan.n)
                    ],
                }
            )
        )
        if include_usage:
            out.append(
                sse(
                    {
                        "id": cid,
                        "object": "text_completion",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": use,
                    }
                )
            )
        return [*out, b"data: [DONE]\n\n"]

    def each(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [
            {"index": i, "delta": delta, "logprobs": None, "finish_reason": finish}
            for i in range(plan.n)
        ]

    out.append(sse(chat_chunk(cid, model, created, each({"role": "assistant", "content": ""}))))
    if plan.tool_call is not None:
        call = plan.tool_call
        out.append(
            sse(
                chat_chunk(
                    cid,
                    model,
                    created,
                    each(
                        {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": call["id"],
                                    "type": "function",
                                    "function": {"name": call["function"]["name"], "arguments": ""},
                                }
                            ]
                        }
                    ),
                )
            )
        )
        out.append(
            sse(
                chat_chunk(
                    cid,
                    model,
                    created,
                    each(
                        {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "function": {"arguments": call["function"]["arguments"]},
                                }
                            ]
                        }
                    ),
                )
            )
        )
    for piece in plan.pieces:
        out.append(sse(chat_chunk(cid, model, created, each({"content": piece}))))
    out.append(sse(chat_chunk(cid, model, created, each({}, plan.finish_reason))))
    if include_usage:
        out.append(sse(chat_chunk(cid, model, created, [], use)))
    return [*out, b"data: [DONE]\n\n"]
