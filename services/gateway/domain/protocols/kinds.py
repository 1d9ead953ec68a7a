"""Upstream kinds: how Tollway writes a translated call to each, and reads its answers.

A deployment's ``kind`` names the protocol its upstream speaks. When the client's surface
speaks the same protocol, the call passes through (see ``surfaces.py``); otherwise the
call is written from ``Conversation`` by the kind's module and its answer read back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from ..conversation import Answer, Conversation, StopReason, StreamEvent
from ..usage import Usage
from .anthropic.answer import anthropic_answer
from .anthropic.request import ours_to_anthropic
from .anthropic.stream import AnthropicReader
from .openai_chat.answer import chat_answer
from .openai_chat.request import ours_to_chat
from .openai_chat.stream import ChatReader
from .openai_responses.answer import response_answer
from .openai_responses.request import ours_to_responses
from .openai_responses.stream import ResponsesReader

__all__ = ["KINDS", "Kind", "KindName", "Reader"]

KindName = Literal["openai-chat", "openai-responses", "anthropic"]


class Reader(Protocol):
    """Reads one upstream stream: ``feed`` each event's JSON, in order."""

    #: Every piece of generated text and tool arguments, for counting when usage is missing.
    generated: list[str]
    #: The stream said it is complete.
    finished: bool
    #: The latest usage and stop reason the stream reported (None: none yet, or unreadable).
    usage: Usage | None
    stop: StopReason | None

    def feed(self, event: dict[str, Any]) -> list[StreamEvent]:
        """Our events for a translated stream (usage and stop kept up to date as well)."""
        ...

    def tally(self, event: dict[str, Any]) -> None:
        """Only usage, stop and the generated text, for a stream passed through."""
        ...


@dataclass(frozen=True)
class Kind:
    name: KindName
    #: The path under the deployment's base URL that takes a call.
    path: str
    #: Writes a call: (conversation, upstream model, output cap, model reasons?) -> body.
    encode: Callable[[Conversation, str, int, bool], dict[str, Any]]
    read_answer: Callable[[dict[str, Any]], Answer]
    reader: Callable[[], Reader]
    #: The smallest output cap the kind takes (a smaller one is raised to it when translating).
    min_output_tokens: int = 1


def _capped(conv: Conversation, cap: int) -> Conversation:
    return replace(conv, max_output_tokens=cap)


KINDS: dict[str, Kind] = {
    "openai-chat": Kind(
        "openai-chat",
        "/chat/completions",
        lambda conv, model, cap, reasons: ours_to_chat(_capped(conv, cap), model, reasons),
        chat_answer,
        ChatReader,
    ),
    "openai-responses": Kind(
        "openai-responses",
        "/responses",
        lambda conv, model, cap, reasons: ours_to_responses(_capped(conv, cap), model, reasons),
        response_answer,
        ResponsesReader,
        min_output_tokens=16,  # OpenAI's floor for max_output_tokens
    ),
    "anthropic": Kind(
        "anthropic", "/messages", ours_to_anthropic, anthropic_answer, AnthropicReader
    ),
}
