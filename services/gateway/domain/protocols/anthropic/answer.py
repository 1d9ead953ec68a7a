"""Anthropic answers (``message``) and usage <-> ``Answer``."""

from __future__ import annotations

from typing import Any

import orjson

from ...conversation import Answer, Reasoning, StopReason, Text, ToolCall
from ...usage import Usage, token_count
from .._ids import new_id
from .request import ORIGIN, tool_input

__all__ = [
    "STOPS",
    "anthropic_answer",
    "anthropic_usage",
    "ours_to_anthropic_answer",
    "stop_to_anthropic",
    "usage_to_anthropic",
]

STOPS: dict[str, StopReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def anthropic_usage(raw: Any, before: Usage | None = None) -> Usage | None:
    """Usage in our meaning: ``input_tokens`` leaves out both cache parts, so they are added
    back. Fields a stream event leaves out keep their value from ``before``."""
    if not isinstance(raw, dict):
        return before
    old = before or Usage()
    read = token_count(raw.get("cache_read_input_tokens"))
    write = token_count(raw.get("cache_creation_input_tokens"))
    read = old.cache_read_tokens if read is None else read
    write = old.cache_write_tokens if write is None else write
    uncached = token_count(raw.get("input_tokens"))
    prompt = old.prompt_tokens if uncached is None else uncached + read + write
    output = token_count(raw.get("output_tokens"))
    details = raw.get("output_tokens_details")
    thinking = token_count(details.get("thinking_tokens")) if isinstance(details, dict) else None
    if before is None and (uncached is None or output is None):
        return None
    return Usage.of(
        prompt,
        old.completion_tokens if output is None else output,
        read,
        write,
        old.reasoning_tokens if thinking is None else thinking,
    )


def usage_to_anthropic(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input_tokens": max(usage.uncached_prompt_tokens, 0),
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
    }
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


def anthropic_answer(body: dict[str, Any]) -> Answer:
    content = body.get("content")
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise ValueError("a message without a list of content blocks")
    answer = Answer(usage=anthropic_usage(body.get("usage")))
    for block in content:
        kind = block.get("type")
        if kind == "text":
            answer.parts.append(Text(str(block.get("text") or "")))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            answer.parts.append(ToolCall(str(block.get("id")), str(block.get("name")), arguments))
        elif kind == "thinking":
            answer.parts.append(
                Reasoning(str(block.get("thinking") or ""), block.get("signature"), origin=ORIGIN)
            )
        elif kind == "redacted_thinking":
            answer.parts.append(Reasoning(opaque=str(block.get("data")), origin=ORIGIN))
    stop = body.get("stop_reason")
    answer.stop = STOPS.get(stop) if isinstance(stop, str) else None
    sequence = body.get("stop_sequence")
    answer.stop_sequence = sequence if isinstance(sequence, str) else None
    return answer


def stop_to_anthropic(stop: StopReason | None, sequence: str | None) -> str:
    if sequence is not None:
        return "stop_sequence"
    return {"length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}.get(
        stop or "stop", "end_turn"
    )


def reasoning_block(part: Reasoning) -> dict[str, Any]:
    if part.opaque is not None and part.origin == ORIGIN:
        return {"type": "redacted_thinking", "data": part.opaque}
    signature = part.signature if part.origin == ORIGIN else ""
    return {"type": "thinking", "thinking": part.text, "signature": signature or ""}


def ours_to_anthropic_answer(answer: Answer, model: str, usage: Usage) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for part in answer.parts:
        if isinstance(part, Text):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ToolCall):
            content.append(
                {"type": "tool_use", "id": part.id, "name": part.name, "input": tool_input(part)}
            )
        else:
            content.append(reasoning_block(part))
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_to_anthropic(answer.stop, answer.stop_sequence),
        "stop_sequence": answer.stop_sequence,
        "usage": usage_to_anthropic(usage),
    }
