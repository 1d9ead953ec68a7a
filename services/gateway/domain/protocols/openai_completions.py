"""OpenAI legacy completions (``POST /v1/completions``): a surface only.

Passed through to openai-chat upstreams (vLLM, SGLang and OpenAI serve ``/completions``),
token-id prompts included. Translated for other kinds as one user message, when the
request asks only for what a chat model can give: one text prompt, one choice, no echo,
suffix or logprobs.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from pydantic import Field

from ...errors import BadRequest
from ..conversation import (
    Answer,
    Conversation,
    Message,
    Stopped,
    StopReason,
    StreamEvent,
    Text,
    TextDelta,
)
from ..usage import Usage
from ._cost import Costing
from ._ids import new_id
from .openai_chat.answer import STOPS, chat_usage, usage_to_chat
from .openai_chat.wire import Sampling

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "CompletionRequest",
    "CompletionWriter",
    "completion_answer",
    "completions_to_ours",
    "ours_to_completion",
]

#: What OpenAI generates when a completions request sets no max_tokens.
DEFAULT_MAX_TOKENS = 16

_TokenIds = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]


class CompletionRequest(Sampling):
    prompt: (
        str
        | Annotated[list[str], Field(min_length=1)]
        | _TokenIds
        | Annotated[list[_TokenIds], Field(min_length=1)]
    )
    best_of: Annotated[int, Field(ge=1, le=20)] | None = None
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None
    echo: bool | None = None
    suffix: str | None = None

    @property
    def output_cap(self) -> int | None:
        return self.max_tokens

    @property
    def choices(self) -> int:
        """How many completions the upstream generates (and charges) for this request."""
        return max(self.n or 1, self.best_of or 1) * self.prompts

    @property
    def prompts(self) -> int:
        return (
            len(self.prompt)
            if isinstance(self.prompt, list) and self.prompt and not isinstance(self.prompt[0], int)
            else 1
        )


def completions_to_ours(req: CompletionRequest, max_output_tokens: int | None) -> Conversation:
    """A chat-shaped call for an upstream that only chats; refuses what it cannot carry."""
    prompt = req.prompt[0] if isinstance(req.prompt, list) and len(req.prompt) == 1 else req.prompt
    if not isinstance(prompt, str):
        raise BadRequest(
            "This model's upstream takes only text prompts: token ids and several prompts "
            "need an OpenAI-compatible completions upstream.",
            param="prompt",
        )
    for name in ("echo", "suffix", "logprobs"):
        if getattr(req, name):
            raise BadRequest(
                f"`{name}` needs an OpenAI-compatible completions upstream.", param=name
            )
    if req.choices > 1:
        raise BadRequest("n and best_of above 1 need an OpenAI-compatible upstream.", param="n")
    return Conversation(
        messages=(Message("user", (Text(prompt),)),),
        stream=bool(req.stream),
        max_output_tokens=max_output_tokens,
        temperature=req.temperature,
        top_p=req.top_p,
        stop=(req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ()),
        user=req.user,
    )


def completion_answer(body: dict[str, Any]) -> Answer:
    choices = body.get("choices")
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise ValueError("an answer without a list of choices")
    first = choices[0] if choices else {}
    text = first.get("text")
    answer = Answer(usage=chat_usage(body.get("usage")))
    if isinstance(text, str) and text:
        answer.parts.append(Text(text))
    finish = first.get("finish_reason")
    answer.stop = STOPS.get(finish) if isinstance(finish, str) else None
    return answer


def _finish(stop: StopReason | None) -> str:
    return (
        "length" if stop == "length" else "content_filter" if stop == "content_filter" else "stop"
    )


def ours_to_completion(answer: Answer, model: str, usage: Usage) -> dict[str, Any]:
    return {
        "id": new_id("cmpl-"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "text": answer.text,
                "logprobs": None,
                "finish_reason": _finish(answer.stop),
            }
        ],
        "usage": usage_to_chat(usage),
    }


class CompletionWriter:
    def __init__(self, model: str, include_usage: bool) -> None:
        self._base = {
            "id": new_id("cmpl-"),
            "object": "text_completion",
            "created": int(time.time()),
            "model": model,
        }
        self._include_usage = include_usage
        self._stop: StopReason = "stop"
        self.costing = Costing()

    def _chunk(self, text: str, finish: str | None) -> bytes:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
        return b"data: " + orjson.dumps({**self._base, "choices": [choice]}) + b"\n\n"

    def head(self) -> bytes:
        return b""

    def write(self, event: StreamEvent) -> bytes:
        if isinstance(event, TextDelta):
            return self._chunk(event.text, None)
        if isinstance(event, Stopped):
            self._stop = event.stop
        return b""

    def tail(self, usage: Usage) -> bytes:
        out = [self._chunk("", _finish(self._stop))]
        if self._include_usage:
            priced = self.costing.add(usage_to_chat(usage), usage)
            usage_chunk = {**self._base, "choices": [], "usage": priced}
            out.append(b"data: " + orjson.dumps(usage_chunk) + b"\n\n")
        out.append(b"data: [DONE]\n\n")
        return b"".join(out)
