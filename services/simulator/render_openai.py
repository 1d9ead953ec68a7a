"""The simulator's answers as OpenAI chat and legacy completions bodies and streams."""

from __future__ import annotations

from typing import Any

from .generation import Plan
from .responses import chat_chunk, new_id, now, sse, usage

__all__ = ["openai_body", "openai_chunks"]


def _usage(plan: Plan) -> dict[str, Any]:
    use = usage(plan.prompt_tokens, plan.completion_tokens, plan.cached_tokens)
    use["completion_tokens_details"] = {"reasoning_tokens": plan.reasoning_tokens}
    return use


def openai_body(kind: str, model: str, plan: Plan) -> dict[str, Any]:
    text = "".join(plan.pieces)
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
            "usage": _usage(plan),
        }
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if plan.thinking:
        message["reasoning_content"] = "".join(plan.thinking)
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
        "usage": _usage(plan),
        "system_fingerprint": "fp_sim",
    }


def _text_chunks(model: str, plan: Plan, include_usage: bool) -> list[bytes]:
    cid, created = new_id("cmpl"), now()

    def chunk(text: str, finish: str | None) -> dict[str, Any]:
        choices = [
            {"index": i, "text": text, "logprobs": None, "finish_reason": finish}
            for i in range(plan.n)
        ]
        return {
            "id": cid,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": choices,
        }

    out = [sse(chunk(piece, None)) for piece in plan.pieces]
    out.append(sse(chunk("", plan.finish_reason)))
    if include_usage:
        out.append(sse({**chunk("", None), "choices": [], "usage": _usage(plan)}))
    return [*out, b"data: [DONE]\n\n"]


def openai_chunks(kind: str, model: str, plan: Plan, include_usage: bool) -> list[bytes]:
    """Every SSE event of a streamed answer, ``data: [DONE]`` last."""
    if kind == "text":
        return _text_chunks(model, plan, include_usage)
    cid, created = new_id("chatcmpl"), now()

    def each(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choices = [
            {"index": i, "delta": delta, "logprobs": None, "finish_reason": finish}
            for i in range(plan.n)
        ]
        return sse(chat_chunk(cid, model, created, choices))

    out = [each({"role": "assistant", "content": ""})]
    out.extend(each({"reasoning_content": piece}) for piece in plan.thinking)
    if plan.tool_call is not None:
        call, fn = plan.tool_call, plan.tool_call["function"]
        head = {"index": 0, "id": call["id"], "type": "function"}
        out.append(
            each({"tool_calls": [{**head, "function": {"name": fn["name"], "arguments": ""}}]})
        )
        out.append(each({"tool_calls": [{"index": 0, "function": {"arguments": fn["arguments"]}}]}))
    out.extend(each({"content": piece}) for piece in plan.pieces)
    out.append(each({}, plan.finish_reason))
    if include_usage:
        out.append(sse(chat_chunk(cid, model, created, [], _usage(plan))))
    return [*out, b"data: [DONE]\n\n"]
