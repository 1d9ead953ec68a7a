"""What the simulated model answers: pure, given a request body and settings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from .responses import tool_arguments
from .tokens import PrefixCache, chat_prompt_tokens, completion_text, encoding

__all__ = ["BadRequest", "Plan", "plan_chat", "plan_completion"]


class BadRequest(ValueError):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Plan:
    """One answer: the pieces to emit (one per token), or a tool call, and the usage."""

    pieces: list[str]
    prompt_tokens: int
    cached_tokens: int
    finish_reason: str
    n: int = 1
    tool_call: dict[str, Any] | None = None

    @property
    def completion_tokens(self) -> int:
        per_choice = len(self.pieces)
        if self.tool_call is not None:
            fn = self.tool_call["function"]
            per_choice = len(encoding().encode(fn["name"] + fn["arguments"]))
        return per_choice * self.n


def _max_tokens(body: dict[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BadRequest(f"{name} must be a positive integer", name)
            return value
    return None


def _n(body: dict[str, Any]) -> int:
    n = body.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 8:
        raise BadRequest("n must be an integer from 1 to 8", "n")
    return n


def _length(body: dict[str, Any], default: int) -> tuple[int, str]:
    cap = _max_tokens(body)
    if cap is not None and cap < default:
        return cap, "length"
    return default, "stop"


def _tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
    tools, choice = body.get("tools"), body.get("tool_choice", "auto")
    messages = body.get("messages") or []
    if not tools or choice == "none" or not messages or messages[-1].get("role") != "user":
        return None
    wanted = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    fn = next(
        (
            t.get("function", {})
            for t in tools
            if wanted is None or t.get("function", {}).get("name") == wanted
        ),
        None,
    )
    if not fn or not fn.get("name"):
        raise BadRequest("tool_choice names no tool in tools", "tool_choice")
    return {
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": fn["name"], "arguments": tool_arguments(fn.get("parameters"))},
    }


def plan_chat(body: dict[str, Any], cache: PrefixCache, default_tokens: int) -> Plan:
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) for m in messages)
    ):
        raise BadRequest("messages must be a non-empty array of message objects", "messages")
    prompt = chat_prompt_tokens(messages, body.get("tools"))
    cached = cache.lookup_and_store(prompt)
    n, tool_call = _n(body), _tool_call(body)
    if tool_call is not None:
        return Plan([], len(prompt), cached, "tool_calls", n, tool_call)
    length, finish = _length(body, default_tokens)
    return Plan(completion_text(length), len(prompt), cached, finish, n)


def plan_completion(body: dict[str, Any], cache: PrefixCache, default_tokens: int) -> Plan:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest("prompt must be a string", "prompt")
    tokens = encoding().encode(prompt)
    cached = cache.lookup_and_store(tokens)
    length, finish = _length(body, default_tokens)
    return Plan(completion_text(length), len(tokens), cached, finish, _n(body))
