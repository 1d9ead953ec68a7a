"""OpenAI chat completions request bodies (``POST /v1/chat/completions``), as OpenAI documents
them, strictly typed; unknown parameters (vLLM's and SGLang's sampling extensions among
them) pass through."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from ....errors import BadRequest
from .._wire import Wire, tagged

__all__ = ["MAX_CHOICES", "ChatRequest", "Sampling"]

#: OpenAI's limit on ``n``.
MAX_CHOICES = 128

_Unit = Annotated[float, Field(ge=0, le=1)]
_Penalty = Annotated[float, Field(ge=-2, le=2)]
Positive = Annotated[int, Field(ge=1)]


class StreamOptions(Wire):
    include_usage: bool | None = None


class Sampling(Wire):
    """Parameters chat and legacy completions share."""

    #: None: the catalog's default_model (or a 400 when it has none).
    model: str | None = Field(default=None, min_length=1, max_length=256)
    max_tokens: Positive | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: _Unit | None = None
    top_k: Annotated[int, Field(ge=-1)] | None = None
    min_p: _Unit | None = None
    frequency_penalty: _Penalty | None = None
    presence_penalty: _Penalty | None = None
    repetition_penalty: Annotated[float, Field(gt=0, le=2)] | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    n: Annotated[int, Field(ge=1, le=MAX_CHOICES)] | None = None
    seed: int | None = None
    user: Annotated[str, Field(max_length=256)] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    router_preference: str | None = None

    def check(self) -> None:
        """Rules across fields (a plain method, not a pydantic validator: one call a request
        instead of one per rule, on the hot path)."""
        if self.stream_options is not None and not self.stream:
            raise BadRequest(
                "stream_options is only allowed when stream is true.", param="stream_options"
            )


class _TextPart(Wire):
    type: Literal["text"]
    text: str


class _ImageUrl(Wire):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class _ImagePart(Wire):
    type: Literal["image_url"]
    image_url: _ImageUrl


class _Audio(Wire):
    data: str
    format: str


class _AudioPart(Wire):
    type: Literal["input_audio"]
    input_audio: _Audio


class _File(Wire):
    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None


class _FilePart(Wire):
    type: Literal["file"]
    file: _File


class _RefusalPart(Wire):
    type: Literal["refusal"]
    refusal: str


class _OtherPart(Wire):
    """A part type OpenAI does not document (vLLM's ``video_url``…): forwarded as it is."""

    type: str


if TYPE_CHECKING:
    Part = _TextPart | _ImagePart | _AudioPart | _FilePart | _RefusalPart | _OtherPart
else:
    Part = tagged(
        {
            "text": _TextPart,
            "image_url": _ImagePart,
            "input_audio": _AudioPart,
            "file": _FilePart,
            "refusal": _RefusalPart,
        },
        _OtherPart,
    )


class _FunctionCall(Wire):
    name: str
    arguments: str


class _ToolCall(Wire):
    id: str
    type: Literal["function"] = "function"
    function: _FunctionCall


class Message(Wire):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[Part] | None = None
    name: str | None = None
    tool_calls: list[_ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None


class _Function(Wire):
    name: str = Field(pattern=r"^[a-zA-Z0-9_.\-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class _Tool(Wire):
    type: Literal["function"]
    function: _Function


class _NamedFunction(Wire):
    name: str


class _NamedChoice(Wire):
    type: Literal["function"]
    function: _NamedFunction


class _JsonSchema(Wire):
    name: str = Field(min_length=1, max_length=64)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None
    description: str | None = None


class _ResponseFormat(Wire):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: _JsonSchema | None = None


class ChatRequest(Sampling):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: Positive | None = None
    tools: list[_Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | _NamedChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: _ResponseFormat | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None

    def check(self) -> None:
        super().check()
        if self.top_logprobs is not None and not self.logprobs:
            raise BadRequest("top_logprobs requires logprobs to be true.", param="top_logprobs")
        for i, m in enumerate(self.messages):
            if m.content is None and m.role not in ("assistant", "function"):  # as OpenAI
                raise BadRequest(
                    "Invalid value for 'content': expected a string or an array of content "
                    "parts, got null.",
                    param=f"messages.{i}.content",
                )
            if m.role == "tool" and not m.tool_call_id:
                raise BadRequest(
                    "A message of role 'tool' needs a tool_call_id.",
                    param=f"messages.{i}.tool_call_id",
                )

    @property
    def output_cap(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens
