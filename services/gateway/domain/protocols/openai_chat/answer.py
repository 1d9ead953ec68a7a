"""OpenAI chat answers (``chat.completion``) and usage <-> ``Answer``."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ...conversation import Answer, Part, Reasoning, StopReason, Text, ToolCall
from ...usage import Usage, token_count
from .._ids import new_id

__all__ = [
    "STOPS",
    "chat_answer",
    "chat_usage",
    "ours_to_chat_answer",
    "tool_calls_of",
    "usage_to_chat",
]

#: finish_reason -> ours (function_call is the pre-tools name of tool_calls).
STOPS: dict[str, StopReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def chat_usage(raw: Any) -> Usage | None:
    """The upstream's usage, or None when it reported none a count can be taken from
    (missing, or prompt and completion tokens that are not non-negative integers): the
    caller then counts with the tokenizer. Odd details count as zero."""
    if not isinstance(raw, dict):
        return None
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    if prompt.__class__ is not int or completion.__class__ is not int:  # bool is not int here
        return None
    if prompt < 0 or completion < 0:
        return None
    details = raw.get("prompt_tokens_details")
    read = write = reasoning = 0
    if details.__class__ is dict:
        read = token_count(details.get("cached_tokens")) or 0
        write = token_count(details.get("cache_write_tokens")) or 0
    if not write and "cache_creation_input_tokens" in raw:  # Anthropic's name, as some send it
        write = token_count(raw["cache_creation_input_tokens"]) or 0
    out_details = raw.get("completion_tokens_details")
    if out_details.__class__ is dict:
        reasoning = token_count(out_details.get("reasoning_tokens")) or 0
    return Usage.of(prompt, completion, read, write, reasoning)


def usage_to_chat(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total,
        "prompt_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def chat_answer(body: dict[str, Any], counting: bool = False) -> Answer:
    """The first choice of an upstream's answer as ours. Raises on a body of the wrong shape
    (the caller treats that as an unreadable answer).

    ``counting``: the answer is only accounted for (it passes through as it came), so its
    parts are read only when the upstream reported no usage, and then of every choice, for
    the tokenizer to count what was generated."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise ValueError("an answer without a list of choices")
    answer = Answer(usage=chat_usage(body.get("usage")))
    uncounted = answer.usage is None
    read = (choices if uncounted else []) if counting else choices[:1]
    for choice in read:
        _read_choice(choice.get("message") or {}, answer)
    first = choices[0] if choices else {}
    finish = first.get("finish_reason")
    answer.stop = STOPS.get(finish) if isinstance(finish, str) else None
    return answer


def _read_choice(message: dict[str, Any], answer: Answer) -> None:
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        answer.parts.append(Reasoning(reasoning, origin="openai-chat"))
    for name in ("content", "refusal"):
        text = message.get(name)
        if isinstance(text, str) and text:
            answer.parts.append(Text(text))
    for call in message.get("tool_calls") or ():
        fn = call.get("function") or {}
        answer.parts.append(
            ToolCall(
                str(call.get("id") or new_id("call_")),
                str(fn.get("name") or ""),
                str(fn.get("arguments") or ""),
            )
        )


def tool_calls_of(parts: Iterable[Part]) -> list[dict[str, Any]]:
    """Our tool calls among ``parts``, as a chat message's ``tool_calls``."""
    return [
        {"id": p.id, "type": "function", "function": {"name": p.name, "arguments": p.arguments}}
        for p in parts
        if isinstance(p, ToolCall)
    ]


def ours_to_chat_answer(answer: Answer, model: str, usage: Usage) -> dict[str, Any]:
    text = answer.text
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    reasoning = "".join(p.text for p in answer.parts if isinstance(p, Reasoning))
    if reasoning:
        message["reasoning_content"] = reasoning
    calls = tool_calls_of(answer.parts)
    if calls:
        message["tool_calls"] = calls
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": answer.stop or "stop",
            }
        ],
        "usage": usage_to_chat(usage),
    }
