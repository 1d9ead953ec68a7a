"""What the service layer needs from the outside world, as protocols the adapters implement
(and tests fake): the upstream, the event log, the usage reports.

The upstream's failures arrive as the three exceptions here, whatever the transport:
``Retryable`` (try the next deployment), ``Rejected`` (the request itself is wrong: no
deployment will do better) and ``Broken`` (a stream ended without finishing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.events import Event

from ..domain.catalog import Deployment

__all__ = [
    "Broken",
    "EventWriter",
    "Metrics",
    "NoMetrics",
    "Rejected",
    "Retryable",
    "Upstream",
    "UpstreamRequest",
    "UpstreamStream",
    "UsageReports",
]


class Retryable(Exception):
    def __init__(self, message: str, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class Broken(Exception):
    """The upstream's stream ended without finishing (dropped, reset, stalled or failed)."""

    def __init__(self, message: str, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass
class Rejected(Exception):
    status: int
    message: str
    param: str | None = None


@dataclass(frozen=True)
class UpstreamRequest:
    """One call to a deployment: the path under its base URL, the JSON body, and headers
    beyond the ones its kind always sends (authentication, content type)."""

    path: str
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


class UpstreamStream(Protocol):
    def batches(self) -> AsyncIterator[list[bytes]]:
        """The ``data:`` payloads, one list per network read."""
        ...

    async def close(self) -> None: ...


class Upstream(Protocol):
    async def complete(self, deployment: Deployment, request: UpstreamRequest) -> dict[str, Any]:
        """The answer's JSON object (status 200), or one of this module's exceptions."""
        ...

    async def stream(self, deployment: Deployment, request: UpstreamRequest) -> UpstreamStream:
        """The open stream (status 200), or one of this module's exceptions."""
        ...

    async def close(self) -> None: ...


class EventWriter(Protocol):
    def emit(self, event: Event, key: str) -> int:
        """Queue a request event; its number among this process's events for ``key``."""
        ...

    def backlog_age(self) -> float: ...


class UsageReports(Protocol):
    async def usage(self, account_id: str, period: dict[str, str]) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class Metrics(Protocol):
    """What the service layer reports for ``/metrics`` (``adapters/metrics.py``)."""

    def completed(
        self,
        surface: str,
        model: str,
        deployment: str,
        status: str,
        http_status: int,
        ttft_s: float | None,
        total_s: float,
    ) -> None: ...

    def failover(self, deployment: str) -> None: ...

    def refused(self, code: str) -> None: ...

    def overhead(self, surface: str, seconds: float) -> None: ...


class NoMetrics:
    """Reports nothing (tests, benchmarks of the bare path)."""

    def completed(self, *_: Any) -> None:
        pass

    def failover(self, deployment: str) -> None:
        pass

    def refused(self, code: str) -> None:
        pass

    def overhead(self, surface: str, seconds: float) -> None:
        pass
