"""The simulator's answers as Anthropic Messages bodies and streams (thinking blocks, tool
use, and usage with cache reads and writes)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from .generation import Plan

__all__ = ["anthropic_body", "anthropic_events", "anthropic_usage"]

_STOPS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _id(prefix: str, seed: str) -> str:
    return prefix + hashlib.sha256(seed.encode()).hexdigest()[:24]


def anthropic_usage(plan: Plan) -> dict[str, Any]:
    use: dict[str, Any] = {
        "input_tokens": plan.prompt_tokens - plan.cached_tokens - plan.cache_write_tokens,
        "cache_creation_input_tokens": plan.cache_write_tokens,
        "cache_read_input_tokens": plan.cached_tokens,
        "output_tokens": plan.completion_tokens,
    }
    if plan.thinking:
        use["output_tokens_details"] = {"thinking_tokens": plan.reasoning_tokens}
    return use


def _blocks(plan: Plan) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if plan.thinking:
        text = "".join(plan.thinking)
        blocks.append({"type": "thinking", "thinking": text, "signature": _id("sig_", text)})
    if plan.pieces:
        blocks.append({"type": "text", "text": "".join(plan.pieces)})
    if plan.tool_call is not None:
        fn = plan.tool_call["function"]
        blocks.append(
            {
                "type": "tool_use",
                "id": "toolu_" + plan.tool_call["id"][5:],
                "name": fn["name"],
                "input": orjson.loads(fn["arguments"]),
            }
        )
    return blocks


def anthropic_body(model: str, plan: Plan, message_id: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _blocks(plan),
        "stop_reason": _STOPS.get(plan.finish_reason, "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage(plan),
    }


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    data = orjson.dumps({"type": kind, **payload})
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


def anthropic_events(model: str, plan: Plan, message_id: str) -> list[bytes]:
    start = anthropic_body(model, plan, message_id)
    start.update(content=[], stop_reason=None)
    start["usage"] = {**anthropic_usage(plan), "output_tokens": 1}
    out = [_event("message_start", {"message": start}), _event("ping", {})]
    for index, block in enumerate(_blocks(plan)):
        kind = block["type"]
        empty = {**block, "thinking": ""} if kind == "thinking" else {**block, "text": ""}
        if kind == "tool_use":
            empty = {**block, "input": {}}
        out.append(_event("content_block_start", {"index": index, "content_block": empty}))
        if kind == "thinking":
            for piece in plan.thinking:
                out.append(_delta(index, {"type": "thinking_delta", "thinking": piece}))
            out.append(_delta(index, {"type": "signature_delta", "signature": block["signature"]}))
        elif kind == "text":
            out.extend(_delta(index, {"type": "text_delta", "text": p}) for p in plan.pieces)
        else:
            arguments = plan.tool_call["function"]["arguments"]  # type: ignore[index]
            out.append(_delta(index, {"type": "input_json_delta", "partial_json": arguments}))
        out.append(_event("content_block_stop", {"index": index}))
    delta = {"stop_reason": _STOPS.get(plan.finish_reason, "end_turn"), "stop_sequence": None}
    out.append(_event("message_delta", {"delta": delta, "usage": anthropic_usage(plan)}))
    out.append(_event("message_stop", {}))
    return out


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return _event("content_block_delta", {"index": index, "delta": delta})
