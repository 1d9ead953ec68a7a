"""What the service layer needs from the outside, passed in by ``bootstrap``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from schemas.events import Event

from ..adapters.reports import UsageReports
from ..adapters.upstream import Upstream
from ..domain.admission import AccountStore, KeyStore
from ..domain.catalog import Catalog
from ..domain.ratelimit import RateLimiter

__all__ = ["Deps", "EventWriter"]


class EventWriter(Protocol):
    def emit(self, event: Event, key: str) -> None: ...

    def backlog_age(self) -> float: ...


@dataclass
class Deps:
    catalog: Catalog
    keys: KeyStore
    accounts: AccountStore
    limiter: RateLimiter
    upstream: Upstream
    events: EventWriter
    #: The metering service's usage report (None: ``GET /v1/usage`` answers 503).
    reports: UsageReports | None = None
    #: Refuse new requests while spooled events are older than this (None: keep serving).
    refuse_when_backlog_older_than_s: float | None = None
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
