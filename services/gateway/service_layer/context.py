"""What the service layer is handed, by ``bootstrap`` (or by a test, with fakes)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.prices import PriceBook

from ..domain.catalog import Catalog
from ..domain.ratelimit import RateLimiter
from ..domain.standing import AccountStore, KeyStore
from .ports import EventWriter, Metrics, NoMetrics, Upstream, UsageReports

__all__ = ["Deps"]


@dataclass
class Deps:
    catalog: Catalog
    keys: KeyStore
    accounts: AccountStore
    limiter: RateLimiter
    upstream: Upstream
    events: EventWriter
    #: Prices as billing charges them (the catalog's, then ``tollway.prices``); None: the
    #: catalog's alone.
    prices: PriceBook | None = None
    #: The metering service's usage report (None: ``GET /v1/usage`` answers 503).
    reports: UsageReports | None = None
    #: Refuse new requests while spooled events are older than this (None: keep serving).
    refuse_when_backlog_older_than_s: float | None = None
    metrics: Metrics = field(default_factory=NoMetrics)
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.prices is None:
            self.prices = self.catalog.price_book()
