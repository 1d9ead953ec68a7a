"""OpenAI Responses streams: ``response.created`` … item and content events …
``response.completed``, each as ``event: <type>`` + ``data: <json>`` with a sequence number.

``ResponsesReader`` turns an upstream's events into ours; ``ResponsesWriter`` writes ours as
OpenAI documents the stream; ``ResponsesPassthrough`` re-emits an upstream's own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
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
from .._sse import UpstreamStreamError, named, sse_event
from .answer import (
    call_item,
    message_item,
    reasoning_item,
    reasoning_of,
    response_object,
    response_usage,
    stop_of,
)
from .request import ORIGIN

__all__ = ["ResponsesPassthrough", "ResponsesReader", "ResponsesWriter"]

_TEXT_DELTAS = ("response.output_text.delta", "response.refusal.delta")
_REASONING_DELTAS = ("response.reasoning_summary_text.delta", "response.reasoning_text.delta")
_ENDINGS = ("response.completed", "response.incomplete")


class ResponsesReader(ReaderState):
    def __init__(self) -> None:
        super().__init__()
        self._parts: dict[Any, int] = {}  # output_index -> our part index
        self._streamed: set[int] = set()
        self._next = 0
        self._called = False

    def _start(self, key: Any, part: Text | ToolCall | Reasoning, out: list[StreamEvent]) -> int:
        index = self._parts[key] = self._next
        self._next += 1
        out.append(PartStarted(index, part))
        return index

    def feed(self, event: dict[str, Any]) -> list[StreamEvent]:
        kind = event.get("type")
        key = event.get("output_index")
        delta = event.get("delta")
        out: list[StreamEvent] = []
        if kind == "response.output_item.added":
            self._added(key, event.get("item"), out)
        elif kind in _TEXT_DELTAS and isinstance(delta, str):
            index = self._parts.get(key)
            if index is None:
                index = self._start(key, Text(""), out)
            self._delta(index, TextDelta(index, delta), delta, out)
        elif kind == "response.function_call_arguments.delta" and isinstance(delta, str):
            if (index := self._parts.get(key)) is not None:
                self._delta(index, ArgumentsDelta(index, delta), delta, out)
        elif kind in _REASONING_DELTAS and isinstance(delta, str):
            if (index := self._parts.get(key)) is not None:
                self._delta(index, ReasoningDelta(index, delta), delta, out)
        elif kind == "response.output_item.done":
            self._done(key, event.get("item"), out)
        elif kind in _ENDINGS:
            self._end(event.get("response"), out)
        elif kind in ("response.failed", "error"):
            raise UpstreamStreamError(_failure(event))
        return out

    def _delta(self, index: int, ours: StreamEvent, text: str, out: list[StreamEvent]) -> None:
        self._streamed.add(index)
        self.generated.append(text)
        out.append(ours)

    def _added(self, key: Any, item: Any, out: list[StreamEvent]) -> None:
        if not isinstance(item, dict):
            return
        kind = item.get("type")
        if kind == "function_call":
            self._called = True
            call = ToolCall(
                str(item.get("call_id") or new_id("call_")), str(item.get("name") or ""), ""
            )
            self._start(key, call, out)
        elif kind == "reasoning":
            self._start(key, Reasoning(signature=item.get("id"), origin=ORIGIN), out)

    def _done(self, key: Any, item: Any, out: list[StreamEvent]) -> None:
        index = self._parts.get(key)
        if index is None or not isinstance(item, dict):
            return
        if index not in self._streamed:  # everything came at once, in the finished item
            kind = item.get("type")
            if kind == "function_call" and isinstance(item.get("arguments"), str):
                self._delta(index, ArgumentsDelta(index, item["arguments"]), item["arguments"], out)
            elif kind == "message":
                text = "".join(
                    str(c.get("text") or "")
                    for c in item.get("content") or ()
                    if isinstance(c, dict)
                )
                if text:
                    self._delta(index, TextDelta(index, text), text, out)
        if item.get("type") == "reasoning":
            reasoning = reasoning_of(item)
            if reasoning.opaque is not None:
                out.append(
                    SignatureDelta(index, signature=reasoning.signature, opaque=reasoning.opaque)
                )
        out.append(PartDone(index))

    def _end(self, response: Any, out: list[StreamEvent]) -> None:
        self.finished = True
        if not isinstance(response, dict):
            return
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        self.stop = stop_of(response.get("status"), reason, self._called)
        if self.stop is not None:
            out.append(Stopped(self.stop))
        self.usage = response_usage(response.get("usage"))
        if self.usage is not None:
            out.append(UsageSeen(self.usage))


def _failure(event: dict[str, Any]) -> str:
    response = event.get("response")
    error = response.get("error") if isinstance(response, dict) else event
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "the upstream response failed")
    return "the upstream response failed"


@dataclass
class _Item:
    output_index: int
    item_id: str
    part: Text | ToolCall | Reasoning
    text: list[str] = field(default_factory=list)
    summary_open: bool = False
    signature: str | None = None
    opaque: str | None = None


class ResponsesWriter:
    """Our events as a Responses stream, in the order OpenAI documents."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.response_id = new_id("resp_")
        self.created_at = int(time.time())
        self._seq = 0
        self.costing = Costing()
        self._items: dict[int, _Item] = {}
        self._output: list[dict[str, Any] | None] = []
        self._stop: StopReason = "stop"

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        self._seq += 1
        return sse_event(kind, {**payload, "sequence_number": self._seq - 1})

    def _response(self, status: str, usage: Usage | None) -> dict[str, Any]:
        output = [item for item in self._output if item is not None]
        return response_object(
            self.response_id, self.model, status, output, usage, self._stop, self.created_at
        )

    def head(self) -> bytes:
        response = self._response("in_progress", None)
        return self._event("response.created", {"response": response}) + self._event(
            "response.in_progress", {"response": response}
        )

    def write(self, event: StreamEvent) -> bytes:
        if isinstance(event, PartStarted):
            return self._start(event)
        if isinstance(event, Stopped):
            self._stop = event.stop
            return b""
        item = self._items.get(getattr(event, "index", -1))
        if item is None:
            return b""
        if isinstance(event, PartDone):
            return self._finish(event.index, item)
        if isinstance(event, SignatureDelta):
            item.signature, item.opaque = event.signature, event.opaque
            return b""
        where = {"item_id": item.item_id, "output_index": item.output_index}
        if isinstance(event, TextDelta):
            item.text.append(event.text)
            payload = {**where, "content_index": 0, "delta": event.text, "logprobs": []}
            return self._event("response.output_text.delta", payload)
        if isinstance(event, ArgumentsDelta):
            item.text.append(event.json)
            return self._event(
                "response.function_call_arguments.delta", {**where, "delta": event.json}
            )
        if isinstance(event, ReasoningDelta):
            item.text.append(event.text)
            head = b""
            if not item.summary_open:
                item.summary_open = True
                part = {"type": "summary_text", "text": ""}
                head = self._event(
                    "response.reasoning_summary_part.added",
                    {**where, "summary_index": 0, "part": part},
                )
            payload = {**where, "summary_index": 0, "delta": event.text}
            return head + self._event("response.reasoning_summary_text.delta", payload)
        return b""

    def _start(self, event: PartStarted) -> bytes:
        part = event.part
        output_index = len(self._output)
        self._output.append(None)
        if isinstance(part, Text):
            item = _Item(output_index, new_id("msg_"), part)
            added = message_item("", "in_progress", item.item_id)
        elif isinstance(part, ToolCall):
            item = _Item(output_index, new_id("fc_"), part)
            added = call_item(part, "in_progress", item.item_id)
        else:
            item = _Item(output_index, new_id("rs_"), part)
            added = reasoning_item(Reasoning(origin=part.origin), item.item_id)
        self._items[event.index] = item
        out = self._event(
            "response.output_item.added", {"output_index": output_index, "item": added}
        )
        if isinstance(part, Text):
            content = {"type": "output_text", "text": "", "annotations": []}
            out += self._event(
                "response.content_part.added",
                {
                    "item_id": item.item_id,
                    "output_index": output_index,
                    "content_index": 0,
                    "part": content,
                },
            )
        return out

    def _finish(self, index: int, item: _Item) -> bytes:
        del self._items[index]
        text = "".join(item.text)
        where = {"item_id": item.item_id, "output_index": item.output_index}
        out = b""
        if isinstance(item.part, Text):
            done = message_item(text, "completed", item.item_id)
            part = done["content"][0]
            out += self._event(
                "response.output_text.done",
                {**where, "content_index": 0, "text": text, "logprobs": []},
            )
            out += self._event(
                "response.content_part.done", {**where, "content_index": 0, "part": part}
            )
        elif isinstance(item.part, ToolCall):
            call = ToolCall(item.part.id, item.part.name, text)
            done = call_item(call, "completed", item.item_id)
            out += self._event(
                "response.function_call_arguments.done",
                {**where, "name": call.name, "arguments": text},
            )
        else:
            reasoning = Reasoning(text, item.signature, item.opaque, item.part.origin)
            done = reasoning_item(reasoning, item.item_id)
            if item.summary_open:
                part = {"type": "summary_text", "text": text}
                out += self._event(
                    "response.reasoning_summary_text.done",
                    {**where, "summary_index": 0, "text": text},
                )
                out += self._event(
                    "response.reasoning_summary_part.done",
                    {**where, "summary_index": 0, "part": part},
                )
        self._output[item.output_index] = done
        return out + self._event(
            "response.output_item.done", {"output_index": item.output_index, "item": done}
        )

    def tail(self, usage: Usage) -> bytes:
        out = b"".join(self._finish(index, item) for index, item in list(self._items.items()))
        status = "incomplete" if self._stop in ("length", "content_filter") else "completed"
        kind = "response.incomplete" if status == "incomplete" else "response.completed"
        response = self._response(status, usage)
        self.costing.add(response.get("usage"), usage)
        return out + self._event(kind, {"response": response})

    def failed(self, code: str, message: str) -> bytes:
        response = self._response("failed", None)
        response["error"] = {"code": code, "message": message}
        return self._event("response.failed", {"response": response})


_WITH_RESPONSE = (
    "response.created",
    "response.in_progress",
    "response.queued",
    "response.completed",
    "response.incomplete",
    "response.failed",
)


class ResponsesPassthrough:
    """A Responses upstream's own events, with the public model name in the response."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.response_id = ""
        self.sequence = 0
        self.costing = Costing()

    def head(self) -> bytes:
        return b""

    def write(self, event: dict[str, Any], raw: bytes) -> bytes:
        kind = event.get("type")
        number = event.get("sequence_number")
        if isinstance(number, int):
            self.sequence = number + 1
        response = event.get("response")
        if kind in _WITH_RESPONSE and isinstance(response, dict):
            self.response_id = str(response.get("id") or self.response_id)
            response["model"] = self.model
            if kind in ("response.completed", "response.incomplete"):
                self.costing.add(response.get("usage"))
            raw = orjson.dumps(event)
        return named(kind, raw)

    def tail(self, usage: Usage) -> bytes:
        return b""

    def failed(self, code: str, message: str) -> bytes:
        response = response_object(
            self.response_id or new_id("resp_"), self.model, "failed", [], None
        )
        response["error"] = {"code": code, "message": message}
        self.sequence += 1
        return sse_event(
            "response.failed", {"response": response, "sequence_number": self.sequence - 1}
        )
