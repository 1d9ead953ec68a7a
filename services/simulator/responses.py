"""OpenAI-shaped bodies the simulator returns."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

__all__ = ["chat_chunk", "error_body", "sse", "tool_arguments", "usage"]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def usage(prompt: int, completion: int, cached: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def error_body(
    message: str, kind: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code, "param": param}}


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def chat_chunk(
    cid: str,
    model: str,
    created: int,
    choices: list[dict[str, Any]],
    usage_: dict[str, Any] | None = None,
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_sim",
        "choices": choices,
    }
    if usage_ is not None:
        chunk["usage"] = usage_
    return chunk


def now() -> int:
    return int(time.time())


_PLACEHOLDER = {
    "string": "example",
    "number": 1,
    "integer": 1,
    "boolean": True,
    "array": [],
    "object": {},
}


def tool_arguments(parameters: dict[str, Any] | None) -> str:
    """Arguments for a tool call: a placeholder for each required parameter."""
    props = (parameters or {}).get("properties", {}) or {}
    required = (parameters or {}).get("required", list(props)) or []
    args = {name: _PLACEHOLDER.get(str(props.get(name, {}).get("type"))) for name in required}
    return orjson.dumps(args).decode()
