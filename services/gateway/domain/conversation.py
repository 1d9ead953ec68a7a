"""Tollway's own form of a model call: what the surfaces clients speak are read into, and what
the upstream kinds are written from, when the two differ.

A call whose surface and upstream kind are the same protocol never passes through here:
its body goes to the upstream as the client sent it (the model name aside). These types
carry what every protocol can say; what one protocol says and another cannot is kept,
mapped or dropped as ``docs/translation.md`` tables it.

Answers are read into ``Answer`` (whole) or into ``StreamEvent``s (streamed); the surface
then writes them in its own shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .usage import Usage

__all__ = [
    "Answer",
    "ArgumentsDelta",
    "Conversation",
    "Document",
    "Image",
    "Message",
    "Part",
    "PartDone",
    "PartStarted",
    "Reasoning",
    "ReasoningDelta",
    "Role",
    "SignatureDelta",
    "StopReason",
    "Stopped",
    "StreamEvent",
    "Text",
    "TextDelta",
    "Tool",
    "ToolCall",
    "ToolResult",
    "UsageSeen",
]

Role = Literal["system", "user", "assistant"]
#: Why generation stopped, in OpenAI chat's words (the other protocols map to these).
StopReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    #: A prompt-cache breakpoint ends here (Anthropic's ``cache_control``).
    cache: bool = False


@dataclass(frozen=True, slots=True)
class Image:
    #: An https URL, or a ``data:<media type>;base64,...`` URL.
    url: str
    cache: bool = False


@dataclass(frozen=True, slots=True)
class Document:
    """A PDF (``url``: https or a base64 data URL) or a plain-text document (``text``)."""

    url: str | None = None
    text: str | None = None
    title: str | None = None
    cache: bool = False


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    #: The arguments as JSON text, as the model wrote them.
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    content: tuple[Text | Image | Document, ...]
    is_error: bool = False
    cache: bool = False


@dataclass(frozen=True, slots=True)
class Reasoning:
    """The model's thinking. ``signature`` (Anthropic's signature, or the id of a Responses
    reasoning item) and ``opaque`` (redacted or encrypted thinking) only mean something to
    the protocol named by ``origin``, and are only sent back there."""

    text: str = ""
    signature: str | None = None
    opaque: str | None = None
    origin: str = ""


Part = Text | Image | Document | ToolCall | ToolResult | Reasoning


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    cache: bool = False


@dataclass(frozen=True, slots=True)
class Conversation:
    """One call's input and settings. ``system`` messages may appear anywhere in ``messages``."""

    messages: tuple[Message, ...]
    stream: bool = False
    tools: tuple[Tool, ...] = ()
    #: "auto", "required", "none", or None (the protocol's default); ``tool_name`` forces one.
    tool_choice: Literal["auto", "required", "none"] | None = None
    tool_name: str | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    #: Reasoning effort ("low", "medium", "high") or a thinking budget in tokens.
    effort: str | None = None
    thinking_budget: int | None = None
    #: A JSON schema the answer must follow (``{"name", "schema", "strict"}``), or
    #: ``{"type": "json_object"}`` for any JSON.
    output_format: dict[str, Any] | None = None
    user: str | None = None


@dataclass(slots=True)
class Answer:
    parts: list[Text | ToolCall | Reasoning] = field(default_factory=list)
    #: None: the upstream gave no reason Tollway knows (written as "stop" to clients).
    stop: StopReason | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, Text))


# -- a streamed answer, as events ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartStarted:
    """A new part of the answer: text, a tool call (id and name known, no arguments yet) or
    reasoning. ``index`` counts parts from 0 in the order they start."""

    index: int
    part: Text | ToolCall | Reasoning


@dataclass(frozen=True, slots=True)
class TextDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ArgumentsDelta:
    index: int
    json: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class SignatureDelta:
    """The reasoning part's signature (Anthropic) or opaque content (encrypted/redacted)."""

    index: int
    signature: str | None = None
    opaque: str | None = None


@dataclass(frozen=True, slots=True)
class PartDone:
    index: int


@dataclass(frozen=True, slots=True)
class Stopped:
    stop: StopReason
    stop_sequence: str | None = None


@dataclass(frozen=True, slots=True)
class UsageSeen:
    """The usage so far; a later one replaces an earlier one."""

    usage: Usage


StreamEvent = (
    PartStarted
    | TextDelta
    | ArgumentsDelta
    | ReasoningDelta
    | SignatureDelta
    | PartDone
    | Stopped
    | UsageSeen
)
