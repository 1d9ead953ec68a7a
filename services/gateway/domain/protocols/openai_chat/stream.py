"""OpenAI chat streams (``chat.completion.chunk`` events, ``data: [DONE]`` last).

``ChatReader`` turns an upstream's chunks into our stream events; ``ChatWriter`` writes our
events as chunks for a client; ``ChatPassthrough`` re-emits an upstream's own chunks.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from ...conversation import (
    ArgumentsDelta,
    PartDone,
    PartStarted,
    Reasoning,
    ReasoningDelta,
    Stopped,
    StopReason,
    StreamEvent,
    Text,
    TextDelta,
    ToolCall,
    UsageSeen,
)
from ...usage import Usage
from .._cost import Costing
from .._ids import new_id
from .._reader import ReaderState
from .._sse import dict_of
from .answer import STOPS, chat_usage, usage_to_chat

__all__ = ["ChatPassthrough", "ChatReader", "ChatWriter"]


class ChatReader(ReaderState):
    """Our events from the first choice; the text of every choice is kept for counting."""

    def __init__(self) -> None:
        super().__init__()
        self._next = 0
        self._open: int | None = None
        self._open_kind = ""
        self._tools: dict[int, int] = {}

    def _start(self, kind: str, part: Text | ToolCall | Reasoning, out: list[StreamEvent]) -> int:
        self._close(out)
        index, self._next = self._next, self._next + 1
        self._open, self._open_kind = index, kind
        out.append(PartStarted(index, part))
        return index

    def _close(self, out: list[StreamEvent]) -> None:
        if self._open is not None:
            out.append(PartDone(self._open))
            self._open = None

    def _ensure(self, kind: str, part: Text | Reasoning, out: list[StreamEvent]) -> int:
        if self._open is not None and self._open_kind == kind:
            return self._open
        return self._start(kind, part, out)

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if isinstance(choice, dict):
                self._choice(choice, out)
        usage = chat_usage(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
            out.append(UsageSeen(usage))
        return out

    def tally(self, chunk: dict[str, Any]) -> None:
        """Only what accounting needs, for a stream that passes through as it came: usage,
        the stop reason and the generated text. (``feed`` costs ~6 µs a chunk more.)"""
        raw = chunk.get("usage")
        if raw:
            self.usage = chat_usage(raw) or self.usage
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
            if isinstance(text, str) and text:
                self.generated.append(text)
            calls = delta.get("tool_calls") if isinstance(delta, dict) else None
            for call in calls if isinstance(calls, list) else ():
                args = dict_of(dict_of(call).get("function")).get("arguments")
                if isinstance(args, str):
                    self.generated.append(args)
            finish = choice.get("finish_reason")
            if isinstance(finish, str) and finish:
                self.stop, self.finished = STOPS.get(finish), True

    def _choice(self, choice: dict[str, Any], out: list[StreamEvent]) -> None:
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        first = choice.get("index", 0) == 0
        text = delta.get("content") or choice.get("text")
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        calls = delta.get("tool_calls")
        calls = calls if isinstance(calls, list) else []
        if isinstance(text, str) and text:
            self.generated.append(text)
        for call in calls:
            fn = call.get("function") if isinstance(call, dict) else None
            args = fn.get("arguments") if isinstance(fn, dict) else None
            if isinstance(args, str):
                self.generated.append(args)
        if not first:
            return
        if isinstance(reasoning, str) and reasoning:
            out.append(ReasoningDelta(self._ensure("reasoning", Reasoning(), out), reasoning))
        if isinstance(text, str) and text:
            out.append(TextDelta(self._ensure("text", Text(""), out), text))
        for call in calls:
            self._call(call, out)
        finish = choice.get("finish_reason")
        if isinstance(finish, str) and finish:
            self._close(out)
            self.stop = STOPS.get(finish)
            out.append(Stopped(self.stop or "stop"))
            self.finished = True

    def _call(self, call: Any, out: list[StreamEvent]) -> None:
        if not isinstance(call, dict):
            return
        fn = dict_of(call.get("function"))
        k = call.get("index", 0)
        if k not in self._tools:
            part = ToolCall(str(call.get("id") or new_id("call_")), str(fn.get("name") or ""), "")
            self._tools[k] = self._start(f"tool{k}", part, out)
        args = fn.get("arguments")
        if isinstance(args, str) and args:
            out.append(ArgumentsDelta(self._tools[k], args))


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class ChatWriter:
    """Our events as chat chunks: text, tool calls, reasoning (as ``reasoning_content``)."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self._base = {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        self._include_usage = include_usage
        self._tool_index: dict[int, int] = {}
        self._stop: StopReason = "stop"
        self.costing = Costing()

    def _delta(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse({**self._base, "choices": [choice]})

    def head(self) -> bytes:
        return self._delta({"role": "assistant", "content": ""})

    def write(self, event: StreamEvent) -> bytes:
        if isinstance(event, TextDelta):
            return self._delta({"content": event.text})
        if isinstance(event, ReasoningDelta):
            return self._delta({"reasoning_content": event.text})
        if isinstance(event, PartStarted) and isinstance(event.part, ToolCall):
            k = self._tool_index[event.index] = len(self._tool_index)
            call = {
                "index": k,
                "id": event.part.id,
                "type": "function",
                "function": {"name": event.part.name, "arguments": ""},
            }
            return self._delta({"tool_calls": [call]})
        if isinstance(event, ArgumentsDelta) and event.index in self._tool_index:
            call = {"index": self._tool_index[event.index], "function": {"arguments": event.json}}
            return self._delta({"tool_calls": [call]})
        if isinstance(event, Stopped):
            self._stop = event.stop
        return b""

    def tail(self, usage: Usage) -> bytes:
        out = [self._delta({}, self._stop)]
        if self._include_usage:
            priced = self.costing.add(usage_to_chat(usage), usage)
            out.append(_sse({**self._base, "choices": [], "usage": priced}))
        out.append(b"data: [DONE]\n\n")
        return b"".join(out)


class ChatPassthrough:
    """An upstream's own chunks, with the public model name, and without the usage chunk
    unless the client asked for it (Tollway always asks the upstream for usage)."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self.model = model
        self.include_usage = include_usage
        self.costing = Costing()

    def head(self) -> bytes:
        return b""

    def write(self, chunk: dict[str, Any], raw: bytes) -> bytes:
        if "usage" in chunk and not self.include_usage:
            if not chunk.get("choices"):
                return b""
            chunk.pop("usage")
        elif isinstance(chunk.get("usage"), dict):
            self.costing.add(chunk["usage"])
        elif chunk.get("model") == self.model:
            return b"data: " + raw + b"\n\n"  # nothing to change: pass the bytes through
        chunk["model"] = self.model
        return _sse(chunk)

    def tail(self, usage: Usage) -> bytes:
        return b"data: [DONE]\n\n"
