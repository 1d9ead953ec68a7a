"""OpenAI Responses request bodies <-> ``Conversation``."""

from __future__ import annotations

from typing import Any

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
from . import wire

__all__ = ["ORIGIN", "ours_to_responses", "responses_to_ours"]

ORIGIN = "openai-responses"
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def _content(content: Any) -> tuple[Text | Image | Document, ...]:
    if isinstance(content, str):
        return (Text(content),) if content else ()
    out: list[Text | Image | Document] = []
    for c in content:
        if isinstance(c, wire._InputText) and c.text:
            out.append(Text(c.text))
        elif isinstance(c, wire._Refusal) and c.refusal:
            out.append(Text(c.refusal))
        elif isinstance(c, wire._InputImage) and c.image_url:
            out.append(Image(c.image_url))
        elif isinstance(c, wire._InputFile) and (c.file_data or c.file_url):
            out.append(Document(url=c.file_data or c.file_url, title=c.filename))
    return tuple(out)


def _append(messages: list[Message], role: str, part: Part) -> None:
    """Calls join the assistant turn before them; results join the user turn before them."""
    if messages and messages[-1].role == role:
        messages[-1] = Message(messages[-1].role, (*messages[-1].parts, part))
    else:
        messages.append(Message(role, (part,)))  # type: ignore[arg-type]


def _items(req: wire.ResponsesRequest) -> list[Message]:
    messages: list[Message] = []
    if req.instructions:
        messages.append(Message("system", (Text(req.instructions),)))
    if isinstance(req.input, str):
        messages.append(Message("user", (Text(req.input),)))
        return messages
    for item in req.input or ():
        if isinstance(item, wire.MessageItem):
            role = "system" if item.role in ("system", "developer") else item.role
            for part in _content(item.content):
                _append(messages, role, part)
        elif isinstance(item, wire.FunctionCallItem):
            _append(messages, "assistant", ToolCall(item.call_id, item.name, item.arguments))
        elif isinstance(item, wire.FunctionOutputItem):
            _append(messages, "user", ToolResult(item.call_id, _content(item.output)))
        elif isinstance(item, wire.ReasoningItem):
            text = "\n".join(s.text for s in [*item.summary, *(item.content or ())])
            _append(
                messages,
                "assistant",
                Reasoning(text, signature=item.id, opaque=item.encrypted_content, origin=ORIGIN),
            )
    return messages


def responses_to_ours(req: wire.ResponsesRequest, max_output_tokens: int | None) -> Conversation:
    choice, name = None, None
    if isinstance(req.tool_choice, str):
        choice = req.tool_choice
    elif req.tool_choice is not None and req.tool_choice.type == "function":
        name = req.tool_choice.name
    fmt = req.text.format if req.text else None
    output_format: dict[str, Any] | None = None
    if fmt is not None and fmt.type == "json_object":
        output_format = {"type": "json_object"}
    elif fmt is not None and fmt.type == "json_schema":
        output_format = {
            "name": fmt.name or "output",
            "schema": fmt.schema_ or _EMPTY_SCHEMA,
            "strict": bool(fmt.strict),
        }
    return Conversation(
        messages=tuple(_items(req)),
        stream=bool(req.stream),
        tools=tuple(
            Tool(t.name, t.description or "", t.parameters or _EMPTY_SCHEMA)
            for t in req.tools or ()
            if isinstance(t, wire.FunctionTool)
        ),
        tool_choice=choice,
        tool_name=name,
        parallel_tool_calls=req.parallel_tool_calls,
        max_output_tokens=max_output_tokens,
        temperature=req.temperature,
        top_p=req.top_p,
        effort=plain_effort(req.reasoning.effort if req.reasoning else None),
        output_format=output_format,
        user=req.safety_identifier or req.user,
    )


# -- ours -> Responses --------------------------------------------------------------------------


def _input_content(parts: tuple[Part, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, Text):
            out.append({"type": "input_text", "text": p.text})
        elif isinstance(p, Image):
            out.append({"type": "input_image", "image_url": p.url, "detail": "auto"})
        elif isinstance(p, Document) and p.text is not None:
            out.append(
                {"type": "input_text", "text": (f"{p.title}\n\n" if p.title else "") + p.text}
            )
        elif isinstance(p, Document) and p.url is not None:
            key = "file_data" if p.url.startswith("data:") else "file_url"
            out.append({"type": "input_file", key: p.url, "filename": p.title or "file.pdf"})
    return out


def _result_output(result: ToolResult) -> str | list[dict[str, Any]]:
    content = _input_content(result.content)
    if all(c["type"] == "input_text" for c in content):
        return "".join(c["text"] for c in content)
    return content


def _message_items(m: Message) -> list[dict[str, Any]]:
    if m.role == "system":
        content = _input_content(m.parts)
        return [{"type": "message", "role": "developer", "content": content}] if content else []
    if m.role == "user":
        items: list[dict[str, Any]] = [
            {"type": "function_call_output", "call_id": p.call_id, "output": _result_output(p)}
            for p in m.parts
            if isinstance(p, ToolResult)
        ]
        content = _input_content(tuple(p for p in m.parts if not isinstance(p, ToolResult)))
        if content:
            items.append({"type": "message", "role": "user", "content": content})
        return items
    items = []
    for p in m.parts:
        if isinstance(p, Text) and p.text:
            # Plain text: a message with output_text parts would need an item id and status.
            items.append({"type": "message", "role": "assistant", "content": p.text})
        elif isinstance(p, ToolCall):
            items.append(
                {"type": "function_call", "call_id": p.id, "name": p.name, "arguments": p.arguments}
            )
        elif isinstance(p, Reasoning) and p.origin == ORIGIN and p.opaque:
            item: dict[str, Any] = {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": p.text}] if p.text else [],
                "encrypted_content": p.opaque,
            }
            if p.signature:
                item["id"] = p.signature
            items.append(item)
    return items


def ours_to_responses(conv: Conversation, model: str, reasons: bool) -> dict[str, Any]:
    messages = list(conv.messages)
    body: dict[str, Any] = {"model": model, "store": False}
    if messages and messages[0].role == "system":
        body["instructions"] = "\n\n".join(
            p.text for p in messages.pop(0).parts if isinstance(p, Text)
        )
    body["input"] = [item for m in messages for item in _message_items(m)]
    if conv.max_output_tokens is not None:
        body["max_output_tokens"] = conv.max_output_tokens
    for name in ("temperature", "top_p"):
        if getattr(conv, name) is not None:
            body[name] = getattr(conv, name)
    if conv.user:
        body["safety_identifier"] = conv.user[:64]
    if conv.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": False,
            }
            for t in conv.tools
        ]
        if conv.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = conv.parallel_tool_calls
    if conv.tool_name is not None:
        body["tool_choice"] = {"type": "function", "name": conv.tool_name}
    elif conv.tool_choice is not None:
        body["tool_choice"] = conv.tool_choice
    effort = conv.effort or effort_of_budget(conv.thinking_budget)
    if reasons and effort is not None:
        body["reasoning"] = {"effort": effort, "summary": "auto"}
        body["include"] = ["reasoning.encrypted_content"]
    if conv.output_format is not None:
        body["text"] = {
            "format": (
                {"type": "json_object"}
                if conv.output_format.get("type") == "json_object"
                else {"type": "json_schema", **conv.output_format}
            )
        }
    if conv.stream:
        body["stream"] = True
    return body
