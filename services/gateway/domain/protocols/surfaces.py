"""The surfaces clients call, each speaking one protocol: how a request is checked, summed up
for admission, passed through to an upstream of the same kind or translated for another,
and how the answer is written back.

| surface | path | passes through to kind |
|---|---|---|
| ``openai.chat`` | ``/v1/chat/completions`` | ``openai-chat`` |
| ``openai.completions`` | ``/v1/completions`` | ``openai-chat`` (its ``/completions``) |
| ``anthropic.messages`` | ``/v1/messages`` | ``anthropic`` |
| ``openai.responses`` | ``/v1/responses`` | ``openai-responses`` |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.events import Surface as SurfaceName

from ...errors import BadRequest
from ..conversation import Answer, Conversation, StreamEvent
from ..usage import Usage, estimate_input, estimate_text
from . import _wire
from ._cost import Costing
from .anthropic.answer import anthropic_answer, ours_to_anthropic_answer
from .anthropic.request import anthropic_to_ours
from .anthropic.stream import AnthropicPassthrough, AnthropicWriter
from .anthropic.wire import CountTokensRequest, MessagesRequest
from .kinds import KindName
from .openai_chat.answer import chat_answer, ours_to_chat_answer
from .openai_chat.request import chat_to_ours
from .openai_chat.stream import ChatPassthrough, ChatWriter
from .openai_chat.wire import ChatRequest
from .openai_completions import (
    DEFAULT_MAX_TOKENS,
    CompletionRequest,
    CompletionWriter,
    completion_answer,
    completions_to_ours,
    ours_to_completion,
)
from .openai_responses.answer import ours_to_response, response_answer
from .openai_responses.request import responses_to_ours
from .openai_responses.stream import ResponsesPassthrough, ResponsesWriter
from .openai_responses.wire import ResponsesRequest

__all__ = ["SURFACES", "Parsed", "PassWriter", "Surface", "Writer", "parse_count_tokens"]

#: Body fields Tollway reads itself and never forwards.
OURS = ("router_preference",)


@dataclass(slots=True)
class Parsed:
    """A checked request and what admission needs to know of it."""

    body: dict[str, Any]
    wire: Any
    model: str | None
    stream: bool
    #: The output cap the client asked for (None: not said) and the param that says it.
    requested_cap: int | None
    cap_param: str
    #: How many answers the upstream generates and charges for (n, best_of, prompts).
    choices: int
    uses_tools: bool
    prompt_estimate: int
    include_usage: bool = False


class Writer(Protocol):
    """Writes a translated stream: our events in the surface's shape."""

    costing: Costing

    def head(self) -> bytes: ...

    def write(self, event: StreamEvent) -> bytes: ...

    def tail(self, usage: Usage) -> bytes: ...


class PassWriter(Protocol):
    """Re-emits a same-kind upstream's events (the model name made public)."""

    costing: Costing

    def head(self) -> bytes: ...

    def write(self, event: dict[str, Any], raw: bytes) -> bytes: ...

    def tail(self, usage: Usage) -> bytes: ...


@dataclass(frozen=True)
class Surface:
    name: SurfaceName
    kind: KindName
    #: The upstream path a passed-through call goes to.
    path: str
    #: Errors in Anthropic's shape and wording.
    anthropic: bool
    parse: Callable[[dict[str, Any]], Parsed]
    conversation: Callable[[Parsed, int], Conversation]
    #: (parsed, upstream model, output cap, model reasons?) -> the body for the upstream.
    passthrough: Callable[[Parsed, str, int, bool], dict[str, Any]]
    read_passthrough: Callable[[dict[str, Any]], Answer]
    answer: Callable[[Answer, str, Usage], dict[str, Any]]
    writer: Callable[[Parsed, str], Writer]
    passthrough_writer: Callable[[Parsed, str], PassWriter]
    #: When the client sets no output cap: this many tokens (None: the model's cap).
    default_cap: int | None = None

    def too_many_tokens(self, parsed: Parsed, cap: int, model: str) -> BadRequest:
        """A strict model's refusal, in the words the surface's own clients recognise."""
        asked = parsed.requested_cap
        if self.anthropic:
            message = (
                f"max_tokens: {asked} > {cap}, which is the maximum allowed number of output "
                f"tokens for {model}"
            )
        else:
            message = (
                f"{parsed.cap_param} is too large: {asked}. This model supports at most {cap} "
                f"completion tokens, whereas you provided {asked}."
            )
        return BadRequest(message, param=parsed.cap_param)


def _forward(parsed: Parsed, model: str, **changes: Any) -> dict[str, Any]:
    out = dict(parsed.body)
    for name in OURS:
        out.pop(name, None)
    out["model"] = model
    out.update(changes)
    return out


# -- openai.chat --------------------------------------------------------------------------------


def _parse_chat(body: dict[str, Any]) -> Parsed:
    req = _wire.validate(ChatRequest, body)
    req.check()
    return Parsed(
        body,
        req,
        req.model,
        bool(req.stream),
        req.output_cap,
        "max_completion_tokens" if req.max_completion_tokens is not None else "max_tokens",
        req.n or 1,
        bool(req.tools),
        estimate_input(body["messages"], body.get("tools")),
        bool(req.stream_options and req.stream_options.include_usage),
    )


def _chat_conversation(parsed: Parsed, cap: int) -> Conversation:
    if parsed.choices > 1:
        raise BadRequest("n above 1 needs an OpenAI-compatible upstream.", param="n")
    return chat_to_ours(parsed.wire, cap)


def _chat_passthrough(parsed: Parsed, model: str, cap: int, reasons: bool) -> dict[str, Any]:
    body = parsed.body
    out = _forward(parsed, model)
    named = False
    for name in ("max_tokens", "max_completion_tokens"):
        if name in body:
            out[name], named = cap, True
    if not named:  # the cap is always sent: the hold covers no more than that
        out["max_completion_tokens" if reasons else "max_tokens"] = cap
    if parsed.stream:  # always ask for usage; the writer hides it if the client did not ask
        out["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    return out


# -- openai.completions -------------------------------------------------------------------------


def _parse_completions(body: dict[str, Any]) -> Parsed:
    req = _wire.validate(CompletionRequest, body)
    req.check()
    prompt = req.prompt
    if isinstance(prompt, str):
        estimate = estimate_text(prompt)
    else:
        estimate = sum(
            1 if isinstance(p, int) else len(p) if isinstance(p, list) else estimate_text(p)
            for p in prompt  # token ids are the tokens
        )
    return Parsed(
        body,
        req,
        req.model,
        bool(req.stream),
        req.max_tokens,
        "max_tokens",
        req.choices,
        False,
        estimate,
        bool(req.stream_options and req.stream_options.include_usage),
    )


def _completions_passthrough(parsed: Parsed, model: str, cap: int, _: bool) -> dict[str, Any]:
    out = _forward(parsed, model, max_tokens=cap)
    if parsed.stream:
        out["stream_options"] = {**(parsed.body.get("stream_options") or {}), "include_usage": True}
    return out


# -- anthropic.messages -------------------------------------------------------------------------


def _anthropic_estimate(body: dict[str, Any]) -> int:
    return estimate_input(body.get("system"), body["messages"], body.get("tools"))


def _parse_messages(body: dict[str, Any]) -> Parsed:
    req = _wire.validate(MessagesRequest, body, _wire.anthropic_style)
    return Parsed(
        body,
        req,
        req.model,
        bool(req.stream),
        req.max_tokens,
        "max_tokens",
        1,
        bool(req.tools),
        _anthropic_estimate(body),
    )


def parse_count_tokens(body: dict[str, Any]) -> CountTokensRequest:
    return _wire.validate(CountTokensRequest, body, _wire.anthropic_style)


# -- openai.responses ---------------------------------------------------------------------------


def _parse_responses(body: dict[str, Any]) -> Parsed:
    req = _wire.validate(ResponsesRequest, body)
    return Parsed(
        body,
        req,
        req.model,
        bool(req.stream),
        req.max_output_tokens,
        "max_output_tokens",
        1,
        any(True for _ in req.tools or ()),
        estimate_input(body.get("instructions"), body.get("input"), body.get("tools")),
    )


SURFACES: dict[SurfaceName, Surface] = {
    "openai.chat": Surface(
        "openai.chat",
        "openai-chat",
        "/chat/completions",
        False,
        _parse_chat,
        _chat_conversation,
        _chat_passthrough,
        lambda body: chat_answer(body, counting=True),
        ours_to_chat_answer,
        lambda p, model: ChatWriter(model, p.include_usage),
        lambda p, model: ChatPassthrough(model, p.include_usage),
    ),
    "openai.completions": Surface(
        "openai.completions",
        "openai-chat",
        "/completions",
        False,
        _parse_completions,
        lambda p, cap: completions_to_ours(p.wire, cap),
        _completions_passthrough,
        completion_answer,
        ours_to_completion,
        lambda p, model: CompletionWriter(model, p.include_usage),
        lambda p, model: ChatPassthrough(model, p.include_usage),
        default_cap=DEFAULT_MAX_TOKENS,
    ),
    "anthropic.messages": Surface(
        "anthropic.messages",
        "anthropic",
        "/messages",
        True,
        _parse_messages,
        lambda p, cap: anthropic_to_ours(p.wire, cap),
        lambda p, model, cap, _: _forward(p, model, max_tokens=cap),
        anthropic_answer,
        ours_to_anthropic_answer,
        lambda p, model: AnthropicWriter(model, p.prompt_estimate),
        lambda p, model: AnthropicPassthrough(model),
    ),
    "openai.responses": Surface(
        "openai.responses",
        "openai-responses",
        "/responses",
        False,
        _parse_responses,
        lambda p, cap: responses_to_ours(p.wire, cap),
        lambda p, model, cap, _: _forward(p, model, max_output_tokens=cap),
        response_answer,
        ours_to_response,
        lambda p, model: ResponsesWriter(model),
        lambda p, model: ResponsesPassthrough(model),
    ),
}
