"""What the gateway writes about each request, on ``tollway.requests`` (key: account_id)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from ._base import Event

__all__ = ["RequestCompleted", "RequestStarted", "RequestStatus", "Surface", "UsageSource"]

Surface = Literal["openai.chat", "openai.completions", "anthropic.messages"]
RequestStatus = Literal["succeeded", "failed", "cancelled"]
UsageSource = Literal["upstream", "estimated"]

_Tokens = Field(ge=0, strict=True)


class _Stamped(Event):
    """What the gateway's event writer adds to each request event it sends."""

    #: The gateway process that wrote this event (a fresh id each process start) and the
    #: event's number among that process's events for this account: 1, 2, 3… Copies of an
    #: event (a spool chunk re-sent after a crash) repeat both, so consumers can drop them
    #: without remembering every request id. Absent on events from other writers.
    producer: str | None = Field(default=None, min_length=1, max_length=64)
    producer_seq: int | None = Field(default=None, ge=1, strict=True)


class RequestStarted(_Stamped):
    """Admitted and about to call the upstream. Billing places a hold on it."""

    TYPE: ClassVar[str] = "request.started"
    VERSION: ClassVar[int] = 1

    request_id: str = Field(min_length=1, max_length=64)
    account_id: str = Field(min_length=1, max_length=64)
    key_id: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=256)
    deployment: str = Field(max_length=256)
    surface: Surface
    stream: bool
    max_tokens: int | None = Field(default=None, ge=0, strict=True)
    prompt_tokens_estimate: int = _Tokens


class RequestCompleted(_Stamped):
    """The request ended, whatever the ending.

    Token meaning is normalised across surfaces: ``prompt_tokens`` counts every
    input token *including* cache reads and cache writes (OpenAI's meaning);
    ``cache_read_tokens`` and ``cache_write_tokens`` are the parts of it that
    were read from or written to a prompt cache.
    """

    TYPE: ClassVar[str] = "request.completed"
    VERSION: ClassVar[int] = 1

    request_id: str = Field(min_length=1, max_length=64)
    account_id: str = Field(min_length=1, max_length=64)
    key_id: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=256)
    deployment: str = Field(max_length=256)
    surface: Surface
    stream: bool
    started_at: AwareDatetime
    status: RequestStatus
    http_status: int = Field(ge=100, le=599, strict=True)
    error_code: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = _Tokens
    completion_tokens: int = _Tokens
    cache_read_tokens: int = _Tokens
    cache_write_tokens: int = _Tokens
    usage_source: UsageSource
    ttft_ms: float | None = Field(default=None, ge=0)
    latency_ms: float = Field(ge=0)
