"""One admitted request's events: ``request.started`` before the upstream call and
exactly one ``request.completed`` however it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events import (
    RequestCompleted,
    RequestStarted,
    RequestStatus,
    Surface,
    UsageSource,
    new_id,
)
from schemas.prices import UnknownPrice, price_charge

from ..domain.catalog import Deployment, Model
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
    serving: Deployment = field(init=False)
    ttft_ms: float | None = None
    _done: bool = False

    def __post_init__(self) -> None:
        self.started_at = self.deps.wall()
        self.t0 = self.deps.monotonic()
        self.serve_with(*self.admitted.candidates[0])

    def serve_with(self, model: Model, deployment: Deployment) -> None:
        self.model_id, self.deployment, self.serving = model.id, deployment.name, deployment

    # Events are built with model_construct, unvalidated, on purpose: the proxy already
    # keeps what an upstream sends to valid values, and a value it did not foresee must
    # never raise here and cost the request its event.

    def _about(self) -> dict[str, Any]:
        """What both events say about the request."""
        principal = self.admitted.principal
        return {
            "request_id": self.request_id,
            "account_id": principal.account_id,
            "key_id": principal.key_id,
            "model": self.model_id,
            "deployment": self.deployment,
            "surface": self.surface,
            "stream": self.stream,
        }

    def start(self) -> None:
        a = self.admitted
        seq = self.deps.events.emit(
            RequestStarted.model_construct(
                event_id=new_id(),
                **self._about(),
                max_tokens=a.output_cap,
                choices=a.choices,
                prompt_tokens_estimate=a.prompt_estimate,
                occurred_at=self.started_at,
            ),
            a.principal.account_id,
        )
        self.deps.accounts.reserve(a.principal.account_id, seq, a.hold_nano, self.t0)

    def cost_nano(self, usage: Usage) -> int | None:
        """What billing will charge for ``usage`` (the same prices, the same arithmetic:
        ``schemas.prices``); None for a model without a price here."""
        assert self.deps.prices is not None  # set by Deps
        try:
            price = self.deps.prices.at(self.model_id, self.started_at)
        except UnknownPrice:
            return None
        tokens = (usage.prompt_tokens, usage.completion_tokens)
        caches = (usage.cache_read_tokens, usage.cache_write_tokens)
        return price_charge(price, *tokens, *caches).total_nano

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
                **self._about(),
                started_at=self.started_at,
                status=status,
                http_status=http_status,
                error_code=error_code,
                finish_reason=finish_reason,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                usage_source=usage_source,
                ttft_ms=self.ttft_ms,
                latency_ms=latency,
            ),
            a.principal.account_id,
        )
        self.deps.metrics.completed(
            self.surface,
            self.model_id,
            self.deployment,
            status,
            http_status,
            self.ttft_ms / 1000 if self.ttft_ms is not None else None,
            latency / 1000,
        )
        extra = usage.total - a.prompt_estimate
        self.deps.limiter.settle(
            a.principal.key_id, self.deps.monotonic(), a.account.tokens_per_minute, extra
        )
