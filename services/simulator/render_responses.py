"""The simulator's answers as OpenAI Responses objects and event streams (reasoning items,
function calls, messages, and usage with cached and reasoning tokens)."""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson

from .generation import Plan
from .responses import new_id

__all__ = ["response_body", "response_events"]


def _usage(plan: Plan) -> dict[str, Any]:
    return {
        "input_tokens": plan.prompt_tokens,
        "input_tokens_details": {"cached_tokens": plan.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": plan.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
    }


def _items(plan: Plan, encrypted: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if plan.thinking:
        text = "".join(plan.thinking)
        item: dict[str, Any] = {
            "type": "reasoning",
            "id": new_id("rs"),
            "summary": [{"type": "summary_text", "text": text}],
        }
        if encrypted:
            item["encrypted_content"] = base64.b64encode(text.encode()).decode()
        items.append(item)
    if plan.tool_call is not None:
        fn = plan.tool_call["function"]
        items.append(
            {
                "type": "function_call",
                "id": new_id("fc"),
                "call_id": plan.tool_call["id"],
                "name": fn["name"],
                "arguments": fn["arguments"],
                "status": "completed",
            }
        )
    if plan.pieces:
        content = [{"type": "output_text", "text": "".join(plan.pieces), "annotations": []}]
        items.append(
            {
                "type": "message",
                "id": new_id("msg"),
                "status": "completed",
                "role": "assistant",
                "content": content,
            }
        )
    return items


def response_body(model: str, plan: Plan, encrypted: bool) -> dict[str, Any]:
    incomplete = plan.finish_reason == "length"
    return {
        "id": new_id("resp"),
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if incomplete else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "error": None,
        "model": model,
        "output": _items(plan, encrypted),
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": _usage(plan),
    }


def response_events(model: str, plan: Plan, encrypted: bool) -> list[bytes]:
    seq = 0

    def event(kind: str, payload: dict[str, Any]) -> bytes:
        nonlocal seq
        seq += 1
        data = orjson.dumps({"type": kind, "sequence_number": seq - 1, **payload})
        return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

    final = response_body(model, plan, encrypted)
    start = {
        **final,
        "status": "in_progress",
        "output": [],
        "usage": None,
        "incomplete_details": None,
    }
    out = [
        event("response.created", {"response": start}),
        event("response.in_progress", {"response": start}),
    ]
    for index, item in enumerate(final["output"]):
        where = {"item_id": item["id"], "output_index": index}
        kind = item["type"]
        added = {**item, "status": "in_progress"}
        if kind == "message":
            added["content"] = []
        elif kind == "function_call":
            added["arguments"] = ""
        elif kind == "reasoning":
            added = {"type": "reasoning", "id": item["id"], "summary": []}
        out.append(event("response.output_item.added", {"output_index": index, "item": added}))
        if kind == "message":
            part = {"type": "output_text", "text": "", "annotations": []}
            out.append(
                event("response.content_part.added", {**where, "content_index": 0, "part": part})
            )
            out.extend(
                event(
                    "response.output_text.delta",
                    {**where, "content_index": 0, "delta": p, "logprobs": []},
                )
                for p in plan.pieces
            )
            text = item["content"][0]["text"]
            out.append(
                event(
                    "response.output_text.done",
                    {**where, "content_index": 0, "text": text, "logprobs": []},
                )
            )
            out.append(
                event(
                    "response.content_part.done",
                    {**where, "content_index": 0, "part": item["content"][0]},
                )
            )
        elif kind == "function_call":
            out.append(
                event(
                    "response.function_call_arguments.delta", {**where, "delta": item["arguments"]}
                )
            )
            out.append(
                event(
                    "response.function_call_arguments.done",
                    {**where, "arguments": item["arguments"]},
                )
            )
        else:
            summary = {"type": "summary_text", "text": ""}
            out.append(
                event(
                    "response.reasoning_summary_part.added",
                    {**where, "summary_index": 0, "part": summary},
                )
            )
            out.extend(
                event(
                    "response.reasoning_summary_text.delta",
                    {**where, "summary_index": 0, "delta": p},
                )
                for p in plan.thinking
            )
            text = item["summary"][0]["text"]
            out.append(
                event(
                    "response.reasoning_summary_text.done",
                    {**where, "summary_index": 0, "text": text},
                )
            )
            out.append(
                event(
                    "response.reasoning_summary_part.done",
                    {**where, "summary_index": 0, "part": item["summary"][0]},
                )
            )
        out.append(event("response.output_item.done", {"output_index": index, "item": item}))
    ending = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    out.append(event(ending, {"response": final}))
    return out
