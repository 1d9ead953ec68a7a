"""Validation of the request bodies the gateway accepts, before anything is forwarded.

Known parameters are checked for type and range; a violation is a 400 naming
the ``param``. Unknown parameters pass through untouched, as upstreams add
them faster than any gateway can list them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import BadRequest

T = TypeVar("T", bound=BaseModel)

__all__ = [
    "ChatRequest",
    "CompletionRequest",
    "CountTokensRequest",
    "MessagesRequest",
    "validate",
]

_Unit = Annotated[float, Field(ge=0, le=1)]
_Penalty = Annotated[float, Field(ge=-2, le=2)]
_Positive = Annotated[int, Field(ge=1, strict=True)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    model: str = Field(min_length=1, max_length=256)
    max_tokens: _Positive | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: _Unit | None = None
    top_k: Annotated[int, Field(ge=-1, strict=True)] | None = None
    min_p: _Unit | None = None
    frequency_penalty: _Penalty | None = None
    presence_penalty: _Penalty | None = None
    repetition_penalty: Annotated[float, Field(gt=0, le=2)] | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    n: Annotated[int, Field(ge=1, le=8, strict=True)] | None = None
    seed: Annotated[int, Field(strict=True)] | None = None
    user: Annotated[str, Field(max_length=256)] | None = None
    logprobs: bool | int | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None

    def check(self) -> None:
        """Rules across fields, raised with the param at fault."""
        if self.stream_options is not None and not self.stream:
            raise BadRequest(
                "stream_options is only allowed when stream is true.", param="stream_options"
            )


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    include_usage: bool | None = None


class _Function(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(pattern=r"^[a-zA-Z0-9_.\-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None


class _Tool(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    type: Literal["function"]
    function: _Function


class _NamedChoice(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    type: Literal["function"]
    function: dict[str, str]


class _ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    type: Literal["text", "json_object", "json_schema"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(_Body):
    messages: list[_Message] = Field(min_length=1)
    max_completion_tokens: _Positive | None = None
    tools: list[_Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | _NamedChoice | None = None
    response_format: _ResponseFormat | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20, strict=True)] | None = None

    def check(self) -> None:
        super().check()
        if self.top_logprobs is not None and not self.logprobs:
            raise BadRequest("top_logprobs requires logprobs to be true.", param="top_logprobs")

    @property
    def output_cap(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_Body):
    prompt: str | Annotated[list[str], Field(min_length=1)]
    logprobs: Annotated[int, Field(ge=0, le=5, strict=True)] | None = None
    echo: bool | None = None
    suffix: str | None = None

    @property
    def output_cap(self) -> int | None:
        return self.max_tokens


class _AnthropicTool(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(pattern=r"^[a-zA-Z0-9_\-]{1,64}$")
    description: str | None = None
    input_schema: dict[str, Any]


class _AnthropicMessage(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class CountTokensRequest(BaseModel):
    """Anthropic ``/v1/messages/count_tokens`` body: what a Messages request sends as input."""

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str = Field(min_length=1, max_length=256)
    messages: list[_AnthropicMessage] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    tools: list[_AnthropicTool] | None = None
    tool_choice: dict[str, Any] | None = None

    @field_validator("tool_choice")
    @classmethod
    def _known_choice(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and value.get("type") not in ("auto", "any", "tool", "none"):
            raise ValueError("tool_choice.type must be auto, any, tool or none")
        if value is not None and value.get("type") == "tool" and not value.get("name"):
            raise ValueError("tool_choice of type tool needs a name")
        return value


class MessagesRequest(CountTokensRequest):
    """Anthropic Messages API body."""

    max_tokens: _Positive
    temperature: Annotated[float, Field(ge=0, le=1)] | None = None
    top_p: _Unit | None = None
    top_k: Annotated[int, Field(ge=0, strict=True)] | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    metadata: dict[str, Any] | None = None

    @property
    def output_cap(self) -> int:
        return self.max_tokens


def validate(model: type[T], body: Any) -> T:
    """``model`` from a parsed JSON body, or a ``BadRequest`` naming the first bad param."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    try:
        result = model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = _param_path(body, first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            message = f"Missing required parameter: '{param}'."
        elif param:
            message = f"Invalid value for '{param}': {message}."
        raise BadRequest(message, param=param) from None
    check = getattr(result, "check", None)
    if check is not None:
        check()
    return result


def _param_path(body: Any, loc: tuple[int | str, ...]) -> str | None:
    """The part of pydantic's ``loc`` that names a place in the body (not union tags)."""
    parts: list[str] = []
    node = body
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str):
            if part in node:
                node = node[part]
                parts.append(part)
            elif part.isidentifier() and not _is_type_tag(part):
                parts.append(part)  # a missing field: name it, then stop
                break
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            parts.append(str(part))
    return ".".join(parts) or None


def _is_type_tag(part: str) -> bool:
    return (
        part in {"str", "int", "float", "bool", "list", "dict", "none"}
        or part[0].isupper()
        or part.startswith("_")
    )
