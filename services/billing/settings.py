"""Billing settings from the environment; defaults match ``make run``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal, cast

from schemas.money import usd_to_nano

from .domain.rules import Rules

__all__ = ["DEV_ADMIN_TOKEN", "BillingSettings"]

#: The admin token of a local run. Set TOLLWAY_ADMIN_TOKEN anywhere else.
DEV_ADMIN_TOKEN = "tollway-dev-admin-token"  # noqa: S105 - a documented local default


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _rules() -> Rules:
    mode = _env("TOLLWAY_TOPUP_FEE_MODE", "deduct")
    if mode not in ("deduct", "add"):
        raise ValueError("TOLLWAY_TOPUP_FEE_MODE must be deduct or add")
    return Rules(
        min_top_up_nano=usd_to_nano(_env("TOLLWAY_TOPUP_MIN_USD", "10")),
        fee_bps=int(_env("TOLLWAY_TOPUP_FEE_BPS", "500")),
        fee_mode=cast(Literal["deduct", "add"], mode),
        default_max_output_tokens=int(_env("TOLLWAY_HOLD_DEFAULT_MAX_TOKENS", "4096")),
        hold_ttl=timedelta(seconds=int(_env("TOLLWAY_HOLD_TTL_S", "900"))),
        alert_share_of_top_up_bps=int(_env("TOLLWAY_ALERT_SHARE_BPS", "2000")),
        alert_absolute_nano=usd_to_nano(_env("TOLLWAY_ALERT_BELOW_USD", "1")),
    )


@dataclass(frozen=True)
class BillingSettings:
    kafka_bootstrap: str = field(
        default_factory=lambda: _env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    port: int = field(default_factory=lambda: int(_env("TOLLWAY_BILLING_PORT", "8081")))
    host: str = field(default_factory=lambda: _env("TOLLWAY_BILLING_HOST", "127.0.0.1"))
    admin_token: str = field(default_factory=lambda: _env("TOLLWAY_ADMIN_TOKEN", DEV_ADMIN_TOKEN))
    catalog: Path = field(
        default_factory=lambda: Path(_env("TOLLWAY_CATALOG", "infra/catalog.toml"))
    )
    #: Distinct per billing process: it names the Kafka transactional id.
    instance: str = field(default_factory=lambda: _env("TOLLWAY_BILLING_INSTANCE", "0"))
    key_rotation_overlap_s: int = field(
        default_factory=lambda: int(_env("TOLLWAY_KEY_ROTATION_OVERLAP_S", "86400"))
    )
    rules: Rules = field(default_factory=_rules)
