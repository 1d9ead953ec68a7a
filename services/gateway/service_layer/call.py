"""One admitted request's events: ``request.started`` before the upstream call and
exactly one ``request.completed`` however it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events import (
    RequestCompleted,
    RequestStarted,
    RequestStatus,
    Surface,
    UsageSource,
    new_id,
)

from ..domain.usage import Usage
from .admission import Admitted
from .context import Deps

__all__ = ["Call"]


@dataclass
class Call:
    deps: Deps
    request_id: str
    surface: Surface
    admitted: Admitted
    stream: bool
    public_model: str
    started_at: datetime = field(init=False)
    t0: float = field(init=False)
    #: The catalog model and deployment serving it (they change on failover).
    model_id: str = ""
    deployment: str = ""
    ttft_ms: float | None = None
    _done: bool = False

    def __post_init__(self) -> None:
        self.started_at = self.deps.wall()
        self.t0 = self.deps.monotonic()
        model, deployment = self.admitted.candidates[0]
        self.model_id, self.deployment = model.id, deployment.name

    # Events are built with model_construct, unvalidated, on purpose: the proxy already
    # keeps what an upstream sends to valid values, and a value it did not foresee must
    # never raise here and cost the request its event.

    def start(self) -> None:
        a = self.admitted
        self.deps.events.emit(
            RequestStarted.model_construct(
                event_id=new_id(),
                request_id=self.request_id,
                account_id=a.principal.account_id,
                key_id=a.principal.key_id,
                model=self.model_id,
                deployment=self.deployment,
                surface=self.surface,
                stream=self.stream,
                max_tokens=a.max_tokens,
                prompt_tokens_estimate=a.prompt_estimate,
                occurred_at=self.started_at,
            ),
            a.principal.account_id,
        )

    def first_byte(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = (self.deps.monotonic() - self.t0) * 1000

    def complete(
        self,
        status: RequestStatus,
        http_status: int,
        usage: Usage,
        usage_source: UsageSource,
        *,
        error_code: str | None = None,
        finish_reason: str | None = None,
    ) -> None:
        if self._done:
            return
        self._done = True
        a = self.admitted
        latency = (self.deps.monotonic() - self.t0) * 1000
        self.deps.events.emit(
            RequestCompleted.model_construct(
                event_id=new_id(),
                occurred_at=self.deps.wall(),
                request_id=self.request_id,
                account_id=a.principal.account_id,
                key_id=a.principal.key_id,
                model=self.model_id,
                deployment=self.deployment,
                surface=self.surface,
                stream=self.stream,
                started_at=self.started_at,
                status=status,
                http_status=http_status,
                error_code=error_code,
                finish_reason=finish_reason,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                usage_source=usage_source,
                ttft_ms=self.ttft_ms,
                latency_ms=latency,
            ),
            a.principal.account_id,
        )
        extra = usage.total - a.prompt_estimate
        self.deps.limiter.settle(
            a.principal.key_id, self.deps.monotonic(), a.account.tokens_per_minute, extra
        )
