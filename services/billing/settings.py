"""Billing settings from the environment; defaults match ``make run``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["BillingSettings"]


@dataclass(frozen=True)
class BillingSettings:
    kafka_bootstrap: str = field(
        default_factory=lambda: os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    port: int = field(default_factory=lambda: int(os.environ.get("TOLLWAY_BILLING_PORT", "8081")))
