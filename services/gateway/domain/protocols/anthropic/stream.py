"""Anthropic streams: ``message_start``, content blocks (start, deltas, stop), ``message_delta``
and ``message_stop``, each as ``event: <type>`` + ``data: <json>``.

``AnthropicReader`` turns an upstream's events into ours; ``AnthropicWriter`` writes ours
as Anthropic's; ``AnthropicPassthrough`` re-emits an upstream's own.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...conversation import (
    ArgumentsDelta,
    PartDone,
    PartStarted,
    Reasoning,
    ReasoningDelta,
    SignatureDelta,
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
from .._sse import UpstreamStreamError, dict_of, named
from .._sse import sse_event as sse
from .answer import STOPS, anthropic_usage, reasoning_block, stop_to_anthropic, usage_to_anthropic
from .request import ORIGIN

__all__ = ["AnthropicPassthrough", "AnthropicReader", "AnthropicWriter"]


class AnthropicReader(ReaderState):
    def __init__(self) -> None:
        super().__init__()
        self._ours: dict[int, int] = {}  # Anthropic's block index -> ours (skipped blocks absent)
        self._next = 0

    def feed(self, event: dict[str, Any]) -> list[StreamEvent]:
        kind = event.get("type")
        out: list[StreamEvent] = []
        if kind == "message_start":
            message = event.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            self.usage = anthropic_usage(usage, self.usage)
        elif kind == "content_block_start":
            self._start(event, out)
        elif kind == "content_block_delta":
            self._delta(event, out)
        elif kind == "content_block_stop":
            index = self._ours.get(event.get("index"))  # type: ignore[arg-type]
            if index is not None:
                out.append(PartDone(index))
        elif kind == "message_delta":
            delta = dict_of(event.get("delta"))
            stop = delta.get("stop_reason")
            if isinstance(stop, str):
                self.stop = STOPS.get(stop)
                sequence = delta.get("stop_sequence")
                out.append(
                    Stopped(
                        STOPS.get(stop, "stop"), sequence if isinstance(sequence, str) else None
                    )
                )
            self.usage = anthropic_usage(event.get("usage"), self.usage or Usage())
        elif kind == "message_stop":
            self.finished = True
        elif kind == "error":
            error = dict_of(event.get("error"))
            raise UpstreamStreamError(str(error.get("message") or error.get("type") or "error"))
        if self.usage is not None and kind in ("message_start", "message_delta"):
            out.append(UsageSeen(self.usage))
        return out

    def _start(self, event: dict[str, Any], out: list[StreamEvent]) -> None:
        block = event.get("content_block")
        if not isinstance(block, dict):
            return
        kind = block.get("type")
        part: Text | ToolCall | Reasoning
        if kind == "text":
            part = Text("")
        elif kind == "tool_use":
            part = ToolCall(
                str(block.get("id") or new_id("toolu_")), str(block.get("name") or ""), ""
            )
        elif kind == "thinking":
            part = Reasoning(origin=ORIGIN)
        elif kind == "redacted_thinking":
            part = Reasoning(opaque=str(block.get("data") or ""), origin=ORIGIN)
        else:
            return  # server-tool blocks: an Anthropic client gets them by passthrough only
        self._ours[event.get("index")] = self._next  # type: ignore[index]
        out.append(PartStarted(self._next, part))
        self._next += 1

    def _delta(self, event: dict[str, Any], out: list[StreamEvent]) -> None:
        index = self._ours.get(event.get("index"))  # type: ignore[arg-type]
        delta = event.get("delta")
        if index is None or not isinstance(delta, dict):
            return
        kind = delta.get("type")
        if kind == "text_delta" and isinstance(delta.get("text"), str):
            self.generated.append(delta["text"])
            out.append(TextDelta(index, delta["text"]))
        elif kind == "input_json_delta" and isinstance(delta.get("partial_json"), str):
            self.generated.append(delta["partial_json"])
            out.append(ArgumentsDelta(index, delta["partial_json"]))
        elif kind == "thinking_delta" and isinstance(delta.get("thinking"), str):
            self.generated.append(delta["thinking"])
            out.append(ReasoningDelta(index, delta["thinking"]))
        elif kind == "signature_delta" and isinstance(delta.get("signature"), str):
            out.append(SignatureDelta(index, signature=delta["signature"]))


class AnthropicWriter:
    """Our events as Anthropic's, one content block open at a time."""

    def __init__(self, model: str, prompt_estimate: int) -> None:
        self.model = model
        self.prompt_estimate = prompt_estimate
        self._open: int | None = None
        self._blocks: dict[int, int] = {}  # our part index -> block index
        self._stop: StopReason = "stop"
        self._sequence: str | None = None
        self.costing = Costing()

    def head(self) -> bytes:
        message: dict[str, Any] = {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_to_anthropic(Usage(prompt_tokens=self.prompt_estimate)),
        }
        return sse("message_start", {"message": message})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        index, self._open = self._open, None
        return sse("content_block_stop", {"index": index})

    def write(self, event: StreamEvent) -> bytes:
        if isinstance(event, PartStarted):
            index = self._blocks[event.index] = len(self._blocks)
            closed = self._close()
            self._open = index
            return closed + sse(
                "content_block_start", {"index": index, "content_block": _empty(event.part)}
            )
        if isinstance(event, PartDone):
            return self._close() if self._blocks.get(event.index) == self._open else b""
        if isinstance(event, Stopped):
            self._stop, self._sequence = event.stop, event.stop_sequence
            return b""
        found = self._blocks.get(getattr(event, "index", -1))
        if found is None or found != self._open:
            return b""
        if isinstance(event, TextDelta):
            delta: dict[str, Any] = {"type": "text_delta", "text": event.text}
        elif isinstance(event, ArgumentsDelta):
            delta = {"type": "input_json_delta", "partial_json": event.json}
        elif isinstance(event, ReasoningDelta):
            delta = {"type": "thinking_delta", "thinking": event.text}
        elif isinstance(event, SignatureDelta) and event.signature is not None:
            delta = {"type": "signature_delta", "signature": event.signature}
        else:
            return b""
        return sse("content_block_delta", {"index": found, "delta": delta})

    def tail(self, usage: Usage) -> bytes:
        delta = {
            "stop_reason": stop_to_anthropic(self._stop, self._sequence),
            "stop_sequence": self._sequence,
        }
        return b"".join(
            (
                self._close(),
                sse(
                    "message_delta",
                    {"delta": delta, "usage": self.costing.add(usage_to_anthropic(usage), usage)},
                ),
                sse("message_stop", {}),
            )
        )


def _empty(part: Text | ToolCall | Reasoning) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "text", "text": ""}
    if isinstance(part, ToolCall):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": {}}
    block = reasoning_block(part)
    if block["type"] == "thinking":
        block["thinking"] = ""
    return block


class AnthropicPassthrough:
    """An Anthropic upstream's own events, with the public model name in ``message_start``."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.costing = Costing()

    def head(self) -> bytes:
        return b""

    def write(self, event: dict[str, Any], raw: bytes) -> bytes:
        kind = event.get("type")
        message = event.get("message")
        if kind == "message_start" and isinstance(message, dict):
            message["model"] = self.model
            raw = orjson.dumps(event)
        elif kind == "message_delta" and isinstance(event.get("usage"), dict):
            self.costing.add(event["usage"])
            raw = orjson.dumps(event)
        return named(kind, raw)

    def tail(self, usage: Usage) -> bytes:
        return b""
