"""Anthropic Messages <-> OpenAI chat completions, for serving /v1/messages from an
OpenAI-compatible upstream. Converters are named ``<from>_to_<to>``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson

from .params import CountTokensRequest, MessagesRequest
from .usage import Usage

__all__ = [
    "StreamTranslator",
    "anthropic_input",
    "anthropic_to_openai",
    "openai_to_anthropic",
]

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _text(blocks: str | list[dict[str, Any]] | None) -> str:
    if blocks is None:
        return ""
    if isinstance(blocks, str):
        return blocks
    return "".join(b.get("text", "") for b in blocks if b.get("type") == "text")


def _tool_result_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return "" if content is None else str(content)


def _user_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A user turn: tool results become ``tool`` messages, the rest one user message."""
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "tool_result":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": block.get("tool_use_id", ""),
                    "content": _tool_result_text(block.get("content")),
                }
            )
        elif kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif kind == "image" and isinstance(block.get("source"), dict):
            src = block["source"]
            url = src.get("url") or f"data:{src.get('media_type')};base64,{src.get('data', '')}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _assistant_blocks(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    calls = [
        {
            "id": b.get("id", ""),
            "type": "function",
            "function": {
                "name": b.get("name", ""),
                "arguments": orjson.dumps(b.get("input", {})).decode(),
            },
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    message: dict[str, Any] = {"role": "assistant", "content": _text(blocks) or None}
    if calls:
        message["tool_calls"] = calls
    return message


def anthropic_input(req: CountTokensRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The OpenAI messages and tools that carry a Messages request's input."""
    messages: list[dict[str, Any]] = []
    if req.system:
        messages.append({"role": "system", "content": _text(req.system)})
    for m in req.messages:
        if isinstance(m.content, str):
            messages.append({"role": m.role, "content": m.content})
        elif m.role == "user":
            messages.extend(_user_blocks(m.content))
        else:
            messages.append(_assistant_blocks(m.content))
    tools = [
        {
            "type": "function",
            "function": {
                "name": t.name,
                "description": t.description or "",
                "parameters": t.input_schema,
            },
        }
        for t in req.tools or ()
    ]
    return messages, tools


def anthropic_to_openai(req: MessagesRequest, upstream_model: str, stream: bool) -> dict[str, Any]:
    messages, tools = anthropic_input(req)
    body: dict[str, Any] = {
        "model": upstream_model,
        "messages": messages,
        "max_tokens": req.max_tokens,
        "stream": stream,
    }
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("top_k", "top_k"),
        ("stop_sequences", "stop"),
    ):
        if getattr(req, ours) is not None:
            body[theirs] = getattr(req, ours)
    if tools:
        body["tools"] = tools
    if req.tool_choice:
        kind = req.tool_choice["type"]
        body["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}.get(kind) or {
            "type": "function",
            "function": {"name": req.tool_choice.get("name", "")},
        }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def _tool_input(arguments: str) -> Any:
    try:
        return orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {"_raw": arguments}


def openai_to_anthropic(body: dict[str, Any], model: str, usage: Usage) -> dict[str, Any]:
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        fn = call.get("function", {})
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or _tool_id(),
                "name": fn.get("name", ""),
                "input": _tool_input(fn.get("arguments", "")),
            }
        )
    return {
        "id": _message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn"),
        "stop_sequence": None,
        "usage": usage.to_anthropic(),
    }


def _message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


def _tool_id() -> str:
    return f"toolu_{uuid.uuid4().hex[:24]}"


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return (
        b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **payload}) + b"\n\n"
    )


class StreamTranslator:
    """Turns OpenAI stream chunks into Anthropic stream events, block by block."""

    def __init__(self, model: str, prompt_estimate: int) -> None:
        self.model = model
        self.prompt_estimate = prompt_estimate
        self._open: tuple[str, int] | None = None  # ("text" | tool index, block index)
        self._blocks = 0
        self._finish: str | None = None

    def start(self) -> bytes:
        usage = Usage(prompt_tokens=self.prompt_estimate).to_anthropic()
        return _event(
            "message_start",
            {
                "message": {
                    "id": _message_id(),
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage,
                }
            },
        )

    def _close(self) -> Iterator[bytes]:
        if self._open is not None:
            yield _event("content_block_stop", {"index": self._open[1]})
            self._open = None

    def _switch(self, key: str, block: dict[str, Any]) -> Iterator[bytes]:
        if self._open is not None and self._open[0] == key:
            return
        yield from self._close()
        self._open = (key, self._blocks)
        yield _event("content_block_start", {"index": self._blocks, "content_block": block})
        self._blocks += 1

    def chunk(self, chunk: dict[str, Any]) -> Iterator[bytes]:
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                yield from self._switch("text", {"type": "text", "text": ""})
                yield _event(
                    "content_block_delta",
                    {
                        "index": self._blocks - 1,
                        "delta": {"type": "text_delta", "text": delta["content"]},
                    },
                )
            for call in delta.get("tool_calls") or []:
                fn = call.get("function") or {}
                key = f"tool{call.get('index', 0)}"
                yield from self._switch(
                    key,
                    {
                        "type": "tool_use",
                        "id": call.get("id") or _tool_id(),
                        "name": fn.get("name", ""),
                        "input": {},
                    },
                )
                if fn.get("arguments"):
                    yield _event(
                        "content_block_delta",
                        {
                            "index": self._blocks - 1,
                            "delta": {"type": "input_json_delta", "partial_json": fn["arguments"]},
                        },
                    )
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]

    def finish(self, usage: Usage) -> Iterator[bytes]:
        yield from self._close()
        yield _event(
            "message_delta",
            {
                "delta": {
                    "stop_reason": _STOP_REASONS.get(self._finish or "stop", "end_turn"),
                    "stop_sequence": None,
                },
                "usage": usage.to_anthropic(),
            },
        )
        yield _event("message_stop", {})

    def error(self, kind: str, message: str) -> bytes:
        return _event("error", {"error": {"type": kind, "message": message}})
