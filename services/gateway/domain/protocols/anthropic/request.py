"""Anthropic Messages request bodies <-> ``Conversation``."""

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
from .._effort import budget_of_effort, plain_effort
from . import wire

__all__ = ["ORIGIN", "anthropic_to_ours", "ours_to_anthropic", "tool_input"]

ORIGIN = "anthropic"


def _image(block: wire.ImageBlock) -> Image | None:
    src = block.source
    if isinstance(src, wire._Base64Source):
        return Image(f"data:{src.media_type};base64,{src.data}", block.cache_control is not None)
    if isinstance(src, wire._UrlSource):
        return Image(src.url, block.cache_control is not None)
    return None  # a file id means nothing to another provider


def _document(block: wire.DocumentBlock) -> Document | None:
    src, cache = block.source, block.cache_control is not None
    if isinstance(src, wire._Base64Source):
        return Document(
            url=f"data:{src.media_type};base64,{src.data}", title=block.title, cache=cache
        )
    if isinstance(src, wire._UrlSource):
        return Document(url=src.url, title=block.title, cache=cache)
    if isinstance(src, wire._TextSource):
        return Document(text=src.data, title=block.title, cache=cache)
    if isinstance(src, wire._ContentSource):
        text = (
            src.content
            if isinstance(src.content, str)
            else "".join(str(b.get("text", "")) for b in src.content if isinstance(b, dict))
        )
        return Document(text=text, title=block.title, cache=cache)
    return None


def _content(block: Any) -> Text | Image | Document | None:
    if isinstance(block, wire.TextBlock):
        return Text(block.text, block.cache_control is not None) if block.text else None
    if isinstance(block, wire.ImageBlock):
        return _image(block)
    if isinstance(block, wire.DocumentBlock):
        return _document(block)
    if isinstance(block, wire.SearchResultBlock):
        body = "\n".join(t.text for t in block.content)
        return Document(text=f"{block.source}\n{body}", title=block.title)
    return None


def _result(block: wire.ToolResultBlock) -> ToolResult:
    if isinstance(block.content, str):
        content: tuple[Text | Image | Document, ...] = (Text(block.content),)
    else:
        content = tuple(c for c in map(_content, block.content or ()) if c is not None)
    return ToolResult(
        block.tool_use_id, content, bool(block.is_error), block.cache_control is not None
    )


def _part(block: Any) -> Part | None:
    if isinstance(block, wire.ToolResultBlock):
        return _result(block)
    if isinstance(block, wire.ToolUseBlock):
        return ToolCall(block.id, block.name, orjson.dumps(block.input).decode())
    if isinstance(block, wire.ThinkingBlock):
        return Reasoning(block.thinking, signature=block.signature, origin=ORIGIN)
    if isinstance(block, wire.RedactedThinkingBlock):
        return Reasoning(opaque=block.data, origin=ORIGIN)
    return _content(block)


def _message(m: wire.Message) -> Message:
    if isinstance(m.content, str):
        return Message(m.role, (Text(m.content),) if m.content else ())
    return Message(m.role, tuple(p for p in map(_part, m.content) if p is not None))


def anthropic_to_ours(req: wire.CountTokensRequest, max_output_tokens: int | None) -> Conversation:
    messages: list[Message] = []
    if isinstance(req.system, str) and req.system:
        messages.append(Message("system", (Text(req.system),)))
    elif isinstance(req.system, list) and req.system:
        messages.append(
            Message("system", tuple(Text(b.text, b.cache_control is not None) for b in req.system))
        )
    messages.extend(_message(m) for m in req.messages)
    choice = req.tool_choice
    thinking, effort, budget = req.thinking, None, None
    if thinking is not None and thinking.type == "enabled":
        budget = thinking.budget_tokens
    elif thinking is not None and thinking.type == "adaptive":
        effort = plain_effort(req.output_config.effort if req.output_config else None) or "medium"
    fmt = req.output_config.format if req.output_config else None
    msg = req if isinstance(req, wire.MessagesRequest) else None
    return Conversation(
        messages=tuple(messages),
        stream=bool(msg and msg.stream),
        tools=tuple(
            Tool(t.name, t.description or "", t.input_schema or {}, t.cache_control is not None)
            for t in req.tools or ()
            if t.is_client_tool
        ),
        tool_choice=(
            {"auto": "auto", "any": "required", "none": "none"}.get(choice.type)  # type: ignore[arg-type]
            if choice is not None
            else None
        ),
        tool_name=choice.name if choice is not None and choice.type == "tool" else None,
        parallel_tool_calls=(
            False if choice is not None and choice.disable_parallel_tool_use else None
        ),
        max_output_tokens=max_output_tokens,
        temperature=msg.temperature if msg else None,
        top_p=msg.top_p if msg else None,
        top_k=msg.top_k if msg else None,
        stop=tuple(msg.stop_sequences or ()) if msg else (),
        effort=effort,
        thinking_budget=budget,
        output_format=(
            {"name": "output", "schema": fmt.get("schema") or {}, "strict": True}
            if isinstance(fmt, dict) and fmt.get("type") == "json_schema"
            else None
        ),
        user=msg.metadata.user_id if msg and msg.metadata else None,
    )


# -- ours -> Anthropic --------------------------------------------------------------------------


def _cache(block: dict[str, Any], cache: bool) -> dict[str, Any]:
    if cache:
        block["cache_control"] = {"type": "ephemeral"}
    return block


def _source(url: str, media_default: str) -> dict[str, Any]:
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        media = head[5:].split(";")[0] or media_default
        return {"type": "base64", "media_type": media, "data": data}
    return {"type": "url", "url": url}


def _block(part: Part) -> dict[str, Any] | None:
    if isinstance(part, Text):
        return _cache({"type": "text", "text": part.text}, part.cache) if part.text else None
    if isinstance(part, Image):
        return _cache({"type": "image", "source": _source(part.url, "image/png")}, part.cache)
    if isinstance(part, Document):
        if part.text is not None:
            source: dict[str, Any] = {"type": "text", "media_type": "text/plain", "data": part.text}
        elif part.url is not None:
            source = _source(part.url, "application/pdf")
        else:
            return None
        block = {"type": "document", "source": source}
        if part.title:
            block["title"] = part.title
        return _cache(block, part.cache)
    if isinstance(part, ToolResult):
        content = [b for b in map(_block, part.content) if b is not None]
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.call_id}
        if content:
            result["content"] = content
        if part.is_error:
            result["is_error"] = True
        return _cache(result, part.cache)
    if isinstance(part, ToolCall):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": tool_input(part)}
    if part.origin != ORIGIN:
        return None  # another provider's reasoning cannot be replayed to this one
    if part.opaque is not None:
        return {"type": "redacted_thinking", "data": part.opaque}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}


def tool_input(call: ToolCall) -> dict[str, Any]:
    """A tool call's arguments as the object Anthropic's ``input`` is; arguments that are not
    a JSON object (a model's mistake) are kept under ``_raw`` rather than lost."""
    try:
        parsed = orjson.loads(call.arguments or "{}")
    except orjson.JSONDecodeError:
        return {"_raw": call.arguments}
    return parsed if isinstance(parsed, dict) else {"_raw": call.arguments}


def _messages(conv: Conversation) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The top-level ``system`` blocks (leading system messages) and the other messages."""
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for m in conv.messages:
        blocks = [b for b in map(_block, m.parts) if b is not None]
        if m.role == "user":  # tool results go first in their turn
            blocks.sort(key=lambda b: b["type"] != "tool_result")
        if not blocks:
            continue
        if m.role == "system" and not messages:
            system.extend(blocks)
        else:
            messages.append({"role": m.role, "content": blocks})
    return system, messages


def ours_to_anthropic(
    conv: Conversation, model: str, max_tokens: int, reasons: bool
) -> dict[str, Any]:
    system, messages = _messages(conv)
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": messages}
    if system:
        body["system"] = system
    if conv.temperature is not None:
        body["temperature"] = min(conv.temperature, 1.0)
    for ours, theirs in (("top_p", "top_p"), ("top_k", "top_k")):
        if getattr(conv, ours) is not None:
            body[theirs] = getattr(conv, ours)
    if conv.stop:
        body["stop_sequences"] = list(conv.stop)
    if conv.tools:
        body["tools"] = [
            _cache(
                {"name": t.name, "description": t.description, "input_schema": t.parameters},
                t.cache,
            )
            for t in conv.tools
        ]
    choice = _tool_choice(conv)
    if choice is not None:
        body["tool_choice"] = choice
    _thinking(body, conv, max_tokens, reasons)
    if conv.output_format is not None and "schema" in conv.output_format:
        body["output_config"] = {
            "format": {"type": "json_schema", "schema": conv.output_format["schema"]}
        }
    if conv.user:
        body["metadata"] = {"user_id": conv.user}
    if conv.stream:
        body["stream"] = True
    return body


def _thinking(body: dict[str, Any], conv: Conversation, max_tokens: int, reasons: bool) -> None:
    """Thinking for a model that reasons; Anthropic then takes no sampling settings."""
    if not reasons or (conv.thinking_budget is None and conv.effort is None) or max_tokens <= 1024:
        return
    if conv.thinking_budget is not None:
        budget = max(1_024, min(conv.thinking_budget, max_tokens - 1))
    else:
        budget = budget_of_effort(conv.effort or "medium", max_tokens)
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    for name in ("temperature", "top_p", "top_k"):
        body.pop(name, None)


def _tool_choice(conv: Conversation) -> dict[str, Any] | None:
    if conv.tool_name is not None:
        choice: dict[str, Any] = {"type": "tool", "name": conv.tool_name}
    elif conv.tool_choice is not None and (conv.tools or conv.tool_choice == "none"):
        choice = {"type": {"required": "any"}.get(conv.tool_choice, conv.tool_choice)}
    elif conv.parallel_tool_calls is False and conv.tools:
        choice = {"type": "auto"}
    else:
        return None
    if conv.parallel_tool_calls is False and choice["type"] != "none":
        choice["disable_parallel_tool_use"] = True
    return choice
