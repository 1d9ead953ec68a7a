"""OpenAI Responses request bodies (``POST /v1/responses``), as OpenAI documents them,
strictly typed.

Input items Tollway reads are checked field by field (messages, function calls and their
outputs, reasoning); others (built-in tool calls, custom tools, compaction items) pass
through to a Responses upstream. What needs state Tollway does not keep is refused with
a 400 that says so: ``previous_response_id``, ``conversation``, ``background`` and
``item_reference``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from ....errors import BadRequest
from .._wire import Wire, tagged

__all__ = ["STATEFUL", "ResponsesRequest"]

#: Parameters that need responses stored between calls, which Tollway does not do.
STATEFUL = ("previous_response_id", "conversation", "background")


class _InputText(Wire):
    type: Literal["input_text", "output_text"]
    text: str


class _InputImage(Wire):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: str | None = None


class _InputFile(Wire):
    type: Literal["input_file"]
    file_data: str | None = None
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


class _Refusal(Wire):
    type: Literal["refusal"]
    refusal: str


class _OtherContent(Wire):
    type: str


if TYPE_CHECKING:
    Content = _InputText | _InputImage | _InputFile | _Refusal | _OtherContent
else:
    Content = tagged(
        {
            "input_text": _InputText,
            "output_text": _InputText,
            "input_image": _InputImage,
            "input_file": _InputFile,
            "refusal": _Refusal,
        },
        _OtherContent,
    )


class MessageItem(Wire):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[Content]


class FunctionCallItem(Wire):
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str
    id: str | None = None


class FunctionOutputItem(Wire):
    type: Literal["function_call_output"]
    call_id: str
    output: str | list[Content]


class _Summary(Wire):
    type: str
    text: str


class ReasoningItem(Wire):
    type: Literal["reasoning"]
    id: str | None = None
    summary: list[_Summary] = []
    content: list[_Summary] | None = None
    encrypted_content: str | None = None


class _ItemReference(Wire):
    type: Literal["item_reference"]
    id: str

    @model_validator(mode="after")
    def _needs_storage(self) -> _ItemReference:
        raise ValueError(
            "item_reference needs stored responses, which Tollway does not keep: "
            "send the items themselves"
        )


class _OtherItem(Wire):
    type: str


if TYPE_CHECKING:
    Item = (
        MessageItem
        | FunctionCallItem
        | FunctionOutputItem
        | ReasoningItem
        | _ItemReference
        | _OtherItem
    )
else:
    Item = tagged(
        {
            "message": MessageItem,
            "function_call": FunctionCallItem,
            "function_call_output": FunctionOutputItem,
            "reasoning": ReasoningItem,
            "item_reference": _ItemReference,
        },
        _OtherItem,
    )


def _item_or_message(value: Any) -> Any:
    """Messages may leave ``type`` out (the SDKs' "easy input message")."""
    if isinstance(value, dict) and "type" not in value and "role" in value:
        return {**value, "type": "message"}
    return value


class FunctionTool(Wire):
    type: Literal["function"]
    name: str = Field(pattern=r"^[a-zA-Z0-9_.\-]{1,128}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class _OtherTool(Wire):
    """Built-in and custom tools (``web_search``, ``namespace``, ``custom``…)."""

    type: str


if TYPE_CHECKING:
    Tool = FunctionTool | _OtherTool
else:
    Tool = tagged({"function": FunctionTool}, _OtherTool)


class _NamedTool(Wire):
    type: str
    name: str | None = None


class Reasoning(Wire):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: str | None = None


class _Format(Wire):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextConfig(Wire):
    format: _Format | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ResponsesRequest(Wire):
    #: None: the catalog's default_model (or a 400 when it has none).
    model: str | None = Field(default=None, min_length=1, max_length=256)
    input: str | list[Item] | None = None
    instructions: str | None = None
    max_output_tokens: Annotated[int, Field(ge=1)] | None = None
    stream: bool | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | _NamedTool | None = None
    parallel_tool_calls: bool | None = None
    reasoning: Reasoning | None = None
    text: TextConfig | None = None
    store: bool | None = None
    include: list[str] | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    router_preference: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _stateless(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name in STATEFUL:
            if data.get(name):
                raise BadRequest(
                    f"{name} needs stored responses, which Tollway does not keep: "
                    "send the whole input each time (with store: false).",
                    param=name,
                )
        items = data.get("input")
        if isinstance(items, list):
            data = {**data, "input": [_item_or_message(i) for i in items]}
        return data
