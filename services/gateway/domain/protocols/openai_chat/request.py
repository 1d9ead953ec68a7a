"""OpenAI chat request bodies <-> ``Conversation``."""

from __future__ import annotations

from typing import Any

import orjson

from ...conversation import (
    Conversation,
    Document,
    Image,
    Message,
    Part,
    Reasoning,
    Text,
    Tool,
    ToolCall,
    ToolResult,
)
from .._effort import effort_of_budget, plain_effort
from .answer import tool_calls_of
from .wire import ChatRequest
from .wire import Message as WireMessage

__all__ = ["chat_to_ours", "ours_to_chat"]

ORIGIN = "openai-chat"
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def _parts(content: Any) -> tuple[Part, ...]:
    if content is None:
        return ()
    if isinstance(content, str):
        return (Text(content),) if content else ()
    out: list[Part] = []
    for part in content:
        kind = part.type
        if kind == "text" and part.text:
            out.append(Text(part.text))
        elif kind == "refusal" and part.refusal:
            out.append(Text(part.refusal))
        elif kind == "image_url":
            out.append(Image(part.image_url.url))
        elif kind == "file" and part.file.file_data:
            out.append(Document(url=part.file.file_data, title=part.file.filename))
    return tuple(out)


def _message(m: WireMessage) -> Message | None:
    if m.role in ("system", "developer"):
        return Message("system", _parts(m.content))
    if m.role in ("tool", "function"):
        call_id = m.tool_call_id or m.name or ""
        texts = tuple(p for p in _parts(m.content) if isinstance(p, Text | Image | Document))
        return Message("user", (ToolResult(call_id, texts),))
    if m.role == "user":
        return Message("user", _parts(m.content))
    parts: list[Part] = []
    if m.reasoning_content:
        parts.append(Reasoning(m.reasoning_content, origin=ORIGIN))
    parts.extend(_parts(m.content))
    parts.extend(ToolCall(c.id, c.function.name, c.function.arguments) for c in m.tool_calls or ())
    return Message("assistant", tuple(parts))


def _merge(messages: list[Message]) -> tuple[Message, ...]:
    """Consecutive tool answers (one chat message each) become one user turn."""
    out: list[Message] = []
    for m in messages:
        if out and m.role == "user" and out[-1].role == "user" and _only_results(out[-1]):
            out[-1] = Message("user", out[-1].parts + m.parts)
        else:
            out.append(m)
    return tuple(out)


def _only_results(m: Message) -> bool:
    return all(isinstance(p, ToolResult) for p in m.parts)


def chat_to_ours(req: ChatRequest, max_output_tokens: int | None) -> Conversation:
    messages = [m for m in (_message(w) for w in req.messages) if m is not None]
    choice, name = None, None
    if isinstance(req.tool_choice, str):
        choice = req.tool_choice
    elif req.tool_choice is not None:
        name = req.tool_choice.function.name
    fmt = req.response_format
    output_format: dict[str, Any] | None = None
    if fmt is not None and fmt.type == "json_object":
        output_format = {"type": "json_object"}
    elif fmt is not None and fmt.type == "json_schema" and fmt.json_schema is not None:
        output_format = {
            "name": fmt.json_schema.name,
            "schema": fmt.json_schema.schema_ or _EMPTY_SCHEMA,
            "strict": bool(fmt.json_schema.strict),
        }
    return Conversation(
        messages=_merge(messages),
        stream=bool(req.stream),
        tools=tuple(
            Tool(
                t.function.name,
                t.function.description or "",
                t.function.parameters or _EMPTY_SCHEMA,
            )
            for t in req.tools or ()
        ),
        tool_choice=choice,
        tool_name=name,
        parallel_tool_calls=req.parallel_tool_calls,
        max_output_tokens=max_output_tokens,
        temperature=req.temperature,
        top_p=req.top_p,
        top_k=req.top_k if req.top_k is not None and req.top_k > 0 else None,
        stop=(req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ()),
        effort=plain_effort(req.reasoning_effort),
        output_format=output_format,
        user=req.user,
    )


# -- ours -> chat -------------------------------------------------------------------------------


def _content(parts: tuple[Part, ...]) -> str | list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, Text):
            out.append({"type": "text", "text": p.text})
        elif isinstance(p, Image):
            out.append({"type": "image_url", "image_url": {"url": p.url}})
        elif isinstance(p, Document) and p.text is not None:
            title = f"{p.title}\n\n" if p.title else ""
            out.append({"type": "text", "text": title + p.text})
        elif isinstance(p, Document) and p.url is not None and p.url.startswith("data:"):
            out.append(
                {"type": "file", "file": {"file_data": p.url, "filename": p.title or "file.pdf"}}
            )
    if all(part["type"] == "text" for part in out):
        return "".join(part["text"] for part in out)
    return out


def _result_text(result: ToolResult) -> str:
    content = _content(result.content)
    return content if isinstance(content, str) else orjson.dumps(content).decode()


def _chat_messages(m: Message) -> list[dict[str, Any]]:
    if m.role == "system":
        return [{"role": "system", "content": _content(m.parts)}]
    if m.role == "user":
        out: list[dict[str, Any]] = [
            {"role": "tool", "tool_call_id": p.call_id, "content": _result_text(p)}
            for p in m.parts
            if isinstance(p, ToolResult)
        ]
        rest = tuple(p for p in m.parts if not isinstance(p, ToolResult))
        if rest:
            out.append({"role": "user", "content": _content(rest)})
        return out
    text = "".join(p.text for p in m.parts if isinstance(p, Text))
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    calls = tool_calls_of(m.parts)
    if calls:
        message["tool_calls"] = calls
    return [message] if text or calls else []


def ours_to_chat(conv: Conversation, model: str, reasons: bool) -> dict[str, Any]:
    """A chat body for an upstream; ``reasons``: the model takes reasoning settings."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [out for m in conv.messages for out in _chat_messages(m)],
    }
    if conv.max_output_tokens is not None:
        body["max_tokens"] = conv.max_output_tokens
    for name in ("temperature", "top_p", "user"):
        if getattr(conv, name) is not None:
            body[name] = getattr(conv, name)
    if conv.stop:
        body["stop"] = list(conv.stop[:4])
    if conv.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in conv.tools
        ]
        if conv.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = conv.parallel_tool_calls
    if conv.tool_name is not None:
        body["tool_choice"] = {"type": "function", "function": {"name": conv.tool_name}}
    elif conv.tool_choice is not None:
        body["tool_choice"] = conv.tool_choice
    effort = conv.effort or effort_of_budget(conv.thinking_budget)
    if reasons and effort is not None:
        body["reasoning_effort"] = effort
    if conv.output_format is not None:
        body["response_format"] = (
            conv.output_format
            if conv.output_format.get("type") == "json_object"
            else {"type": "json_schema", "json_schema": conv.output_format}
        )
    if conv.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body
