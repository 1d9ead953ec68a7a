"""What the gateway writes about each request, on ``tollway.requests`` (key: account_id)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.limits import MAX_CHOICES, MAX_OUTPUT_TOKENS, MAX_TOKENS

from ._base import Event

__all__ = ["RequestCompleted", "RequestStarted", "RequestStatus", "Surface", "UsageSource"]

Surface = Literal["openai.chat", "openai.completions", "anthropic.messages", "openai.responses"]
RequestStatus = Literal["succeeded", "failed", "cancelled"]
UsageSource = Literal["upstream", "estimated"]

_Tokens = Field(ge=0, le=MAX_TOKENS, strict=True)


class _Stamped(Event):
    """What the gateway's event writer adds to each request event it sends."""

    #: The gateway process that wrote this event (a fresh id each process start) and the
    #: event's number among that process's events for this account: 1, 2, 3… Copies of an
    #: event (a spool chunk re-sent after a crash) repeat both, so consumers can drop them
    #: without remembering every request id. Absent on events from other writers.
    producer: str | None = Field(default=None, min_length=1, max_length=64)
    producer_seq: int | None = Field(default=None, ge=1, strict=True)


class _RequestEvent(_Stamped):
    """What both of a request's events say about it: which request, whose, which model and
    deployment, through which surface, streamed or not."""

    request_id: str = Field(min_length=1, max_length=64)
    account_id: str = Field(min_length=1, max_length=64)
    key_id: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=256)
    deployment: str = Field(max_length=256)
    surface: Surface
    stream: bool


class RequestStarted(_RequestEvent, type="request.started"):
    """Admitted and about to call the upstream. Billing places a hold on it."""

    #: The most output tokens one answer may have (what the client asked, at most the
    #: model's cap), and how many answers the upstream generates (``n``, ``best_of``…):
    #: billing holds ``max_tokens`` times ``choices`` output tokens. Absent: 1.
    max_tokens: int | None = Field(default=None, ge=0, le=MAX_OUTPUT_TOKENS, strict=True)
    choices: int | None = Field(default=None, ge=1, le=MAX_CHOICES, strict=True)
    prompt_tokens_estimate: int = Field(ge=0, le=MAX_OUTPUT_TOKENS, strict=True)


class RequestCompleted(_RequestEvent, type="request.completed"):
    """The request ended, whatever the ending.

    Token meaning is normalised across surfaces: ``prompt_tokens`` counts every
    input token *including* cache reads and cache writes (OpenAI's meaning);
    ``cache_read_tokens`` and ``cache_write_tokens`` are the parts of it that
    were read from or written to a prompt cache.
    """

    started_at: AwareDatetime
    status: RequestStatus
    http_status: int = Field(ge=100, le=599, strict=True)
    error_code: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = _Tokens
    completion_tokens: int = _Tokens
    cache_read_tokens: int = _Tokens
    cache_write_tokens: int = _Tokens
    #: Part of ``completion_tokens``: what the model spent reasoning (0 if not reported).
    reasoning_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, strict=True)
    usage_source: UsageSource
    ttft_ms: float | None = Field(default=None, ge=0)
    latency_ms: float = Field(ge=0)
