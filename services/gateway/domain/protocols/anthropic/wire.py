"""Anthropic Messages request bodies (``POST /v1/messages`` and ``/count_tokens``), as
Anthropic documents them, strictly typed.

Every content block type Anthropic takes is accepted; the ones Tollway reads (or
translates) are checked field by field, the rest (server-tool results, container uploads,
types added later) pass through to an Anthropic upstream as they came. ``cache_control`` is
accepted anywhere. ``system`` may come at the top and as messages mid-conversation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from .._wire import Wire, tagged

__all__ = ["CountTokensRequest", "MessagesRequest", "TextBlock"]


class CacheControl(Wire):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


class _Block(Wire):
    cache_control: CacheControl | None = None


class TextBlock(_Block):
    type: Literal["text"]
    text: str
    citations: list[dict[str, Any]] | None = None


class _Base64Source(Wire):
    type: Literal["base64"]
    media_type: str
    data: str


class _UrlSource(Wire):
    type: Literal["url"]
    url: str


class _FileSource(Wire):
    type: Literal["file"]
    file_id: str


class _TextSource(Wire):
    type: Literal["text"]
    media_type: str = "text/plain"
    data: str


class _ContentSource(Wire):
    type: Literal["content"]
    content: str | list[dict[str, Any]]


class ImageBlock(_Block):
    type: Literal["image"]
    source: _Base64Source | _UrlSource | _FileSource


class DocumentBlock(_Block):
    type: Literal["document"]
    source: _Base64Source | _UrlSource | _FileSource | _TextSource | _ContentSource
    title: str | None = None
    context: str | None = None
    citations: dict[str, Any] | None = None


class SearchResultBlock(_Block):
    type: Literal["search_result"]
    source: str
    title: str
    content: list[TextBlock]


class ThinkingBlock(Wire):
    type: Literal["thinking"]
    thinking: str
    signature: str


class RedactedThinkingBlock(Wire):
    type: Literal["redacted_thinking"]
    data: str


class ToolUseBlock(_Block):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class _OtherBlock(_Block):
    """Server-tool blocks, container uploads and any type Anthropic adds later."""

    type: str


if TYPE_CHECKING:
    ResultPart = TextBlock | ImageBlock | DocumentBlock | SearchResultBlock | _OtherBlock
else:
    ResultPart = tagged(
        {
            "text": TextBlock,
            "image": ImageBlock,
            "document": DocumentBlock,
            "search_result": SearchResultBlock,
        },
        _OtherBlock,
    )


class ToolResultBlock(_Block):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[ResultPart] | None = None
    is_error: bool | None = None


_BLOCKS: dict[str, type[Wire]] = {
    "text": TextBlock,
    "image": ImageBlock,
    "document": DocumentBlock,
    "search_result": SearchResultBlock,
    "thinking": ThinkingBlock,
    "redacted_thinking": RedactedThinkingBlock,
    "tool_use": ToolUseBlock,
    "tool_result": ToolResultBlock,
}
if TYPE_CHECKING:
    Block = (
        TextBlock
        | ImageBlock
        | DocumentBlock
        | SearchResultBlock
        | ThinkingBlock
        | RedactedThinkingBlock
        | ToolUseBlock
        | ToolResultBlock
        | _OtherBlock
    )
else:
    Block = tagged(_BLOCKS, _OtherBlock)


class Message(Wire):
    role: Literal["user", "assistant", "system"]
    content: str | list[Block]


class Tool(Wire):
    """A client tool (``input_schema``) or a server tool (a versioned ``type``)."""

    name: str = Field(min_length=1, max_length=128)
    type: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    cache_control: CacheControl | None = None

    @model_validator(mode="after")
    def _client_tools_need_a_schema(self) -> Tool:
        if self.type in (None, "custom") and self.input_schema is None:
            raise ValueError("a client tool needs an input_schema")
        return self

    @property
    def is_client_tool(self) -> bool:
        return self.type in (None, "custom")


class ToolChoice(Wire):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Thinking(Wire):
    type: Literal["enabled", "disabled", "adaptive", "between_tools"]
    budget_tokens: Annotated[int, Field(ge=1)] | None = None
    display: Literal["summarized", "omitted"] | None = None


class OutputConfig(Wire):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: dict[str, Any] | None = None


class Metadata(Wire):
    user_id: Annotated[str, Field(max_length=512)] | None = None


class CountTokensRequest(Wire):
    """What a Messages request sends as input; ``max_tokens`` is not needed to count it."""

    #: None: the catalog's default_model (or a 400 when it has none).
    model: str | None = Field(default=None, min_length=1, max_length=256)
    messages: list[Message] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None
    cache_control: CacheControl | None = None
    context_management: dict[str, Any] | None = None
    mcp_servers: list[dict[str, Any]] | None = None


class MessagesRequest(CountTokensRequest):
    max_tokens: Annotated[int, Field(ge=1)]
    temperature: Annotated[float, Field(ge=0, le=1)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    metadata: Metadata | None = None
    service_tier: str | None = None
    container: str | dict[str, Any] | None = None
