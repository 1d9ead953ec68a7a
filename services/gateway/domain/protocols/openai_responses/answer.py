"""OpenAI Responses answers (``response`` objects) and usage <-> ``Answer``."""

from __future__ import annotations

import time
from typing import Any

from ...conversation import Answer, Reasoning, StopReason, Text, ToolCall
from ...usage import Usage, token_count
from .._ids import new_id
from .request import ORIGIN

__all__ = [
    "ours_to_response",
    "output_items",
    "response_answer",
    "response_usage",
    "usage_to_responses",
]


def _details(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    return value if isinstance(value, dict) else {}


def response_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt, completion = token_count(raw.get("input_tokens")), token_count(raw.get("output_tokens"))
    if prompt is None or completion is None:
        return None
    inp, out = _details(raw, "input_tokens_details"), _details(raw, "output_tokens_details")
    return Usage.of(
        prompt,
        completion,
        token_count(inp.get("cached_tokens")) or 0,
        token_count(inp.get("cache_write_tokens")) or 0,
        token_count(out.get("reasoning_tokens")) or 0,
    )


def usage_to_responses(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total,
    }


def stop_of(status: Any, reason: Any, called: bool) -> StopReason | None:
    if status == "incomplete":
        return "content_filter" if reason == "content_filter" else "length"
    if status == "completed":
        return "tool_calls" if called else "stop"
    return None


def response_answer(body: dict[str, Any]) -> Answer:
    output = body.get("output")
    if not isinstance(output, list) or not all(isinstance(i, dict) for i in output):
        raise ValueError("a response without a list of output items")
    answer = Answer(usage=response_usage(body.get("usage")))
    for item in output:
        kind = item.get("type")
        if kind == "message":
            for c in item.get("content") or ():
                text = c.get("text") if c.get("type") == "output_text" else c.get("refusal")
                if isinstance(text, str) and text:
                    answer.parts.append(Text(text))
        elif kind == "function_call":
            answer.parts.append(
                ToolCall(
                    str(item.get("call_id")),
                    str(item.get("name")),
                    str(item.get("arguments") or ""),
                )
            )
        elif kind == "reasoning":
            answer.parts.append(reasoning_of(item))
    details = body.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    called = any(isinstance(p, ToolCall) for p in answer.parts)
    answer.stop = stop_of(body.get("status"), reason, called)
    return answer


def reasoning_of(item: dict[str, Any]) -> Reasoning:
    texts = [
        str(s.get("text") or "")
        for s in [*(item.get("summary") or ()), *(item.get("content") or ())]
        if isinstance(s, dict)
    ]
    opaque = item.get("encrypted_content")
    return Reasoning(
        "\n".join(texts),
        signature=item.get("id") if isinstance(item.get("id"), str) else None,
        opaque=opaque if isinstance(opaque, str) else None,
        origin=ORIGIN,
    )


def message_item(
    text: str, status: str = "completed", item_id: str | None = None
) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id or new_id("msg_"),
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        if status == "completed"
        else [],
    }


def call_item(
    call: ToolCall, status: str = "completed", item_id: str | None = None
) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id or new_id("fc_"),
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments if status == "completed" else "",
        "status": status,
    }


def reasoning_item(part: Reasoning, item_id: str | None = None) -> dict[str, Any]:
    mine = part.origin == ORIGIN
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": item_id or (part.signature if mine and part.signature else new_id("rs_")),
        "summary": [{"type": "summary_text", "text": part.text}] if part.text else [],
    }
    if mine and part.opaque:
        item["encrypted_content"] = part.opaque
    return item


def output_items(answer: Answer) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for part in answer.parts:
        if isinstance(part, Text):
            items.append(message_item(part.text))
        elif isinstance(part, ToolCall):
            items.append(call_item(part))
        else:
            items.append(reasoning_item(part))
    return items


def response_object(
    response_id: str,
    model: str,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None,
    stop: StopReason | None = "stop",
    created_at: int | None = None,
) -> dict[str, Any]:
    incomplete = None
    if status == "incomplete":
        reason = "content_filter" if stop == "content_filter" else "max_output_tokens"
        incomplete = {"reason": reason}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at or int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": None,
        "top_p": None,
        "max_output_tokens": None,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
        "metadata": {},
        "usage": usage_to_responses(usage) if usage is not None else None,
    }


def ours_to_response(answer: Answer, model: str, usage: Usage) -> dict[str, Any]:
    status = "incomplete" if answer.stop in ("length", "content_filter") else "completed"
    return response_object(new_id("resp_"), model, status, output_items(answer), usage, answer.stop)
