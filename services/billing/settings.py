"""Billing settings from the environment; defaults match ``make run``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal, cast

from schemas.admin_access import TokenBook
from schemas.money import usd_to_nano
from schemas.settings import (
    env_flag,
    env_float,
    env_int,
    env_path,
    env_port,
    env_text,
    kafka_bootstrap,
)
from schemas.webhooks import given_master_key

from .domain.rules import Rules

__all__ = ["BillingSettings"]


def _rules() -> Rules:
    mode = env_text("TOLLWAY_TOPUP_FEE_MODE", "deduct")
    if mode not in ("deduct", "add"):
        raise ValueError("TOLLWAY_TOPUP_FEE_MODE must be deduct or add")
    return Rules(
        min_top_up_nano=usd_to_nano(env_text("TOLLWAY_TOPUP_MIN_USD", "10")),
        fee_bps=env_int("TOLLWAY_TOPUP_FEE_BPS", 500),
        fee_mode=cast(Literal["deduct", "add"], mode),
        default_max_output_tokens=env_int("TOLLWAY_HOLD_DEFAULT_MAX_TOKENS", 4096),
        hold_ttl=timedelta(seconds=env_int("TOLLWAY_HOLD_TTL_S", 900)),
        alert_share_of_top_up_bps=env_int("TOLLWAY_ALERT_SHARE_BPS", 2000),
        alert_absolute_nano=usd_to_nano(env_text("TOLLWAY_ALERT_BELOW_USD", "1")),
        free_monthly_tokens=env_int("TOLLWAY_FREE_PLAN_MONTHLY_TOKENS", 1000000),
    )


@dataclass(frozen=True)
class BillingSettings:
    kafka_bootstrap: str = field(default_factory=lambda: kafka_bootstrap())
    port: int = field(default_factory=lambda: env_port("TOLLWAY_BILLING_PORT", 8081))
    host: str = field(default_factory=lambda: env_text("TOLLWAY_BILLING_HOST", "127.0.0.1"))
    #: Who may call the admin API: TOLLWAY_ADMIN_TOKEN and the tokens file (no default).
    tokens: TokenBook = field(default_factory=TokenBook.from_environment)
    catalog: Path = field(default_factory=lambda: env_path("TOLLWAY_CATALOG", "infra/catalog.toml"))
    #: Distinct per billing process: it names the Kafka transactional id.
    instance: str = field(default_factory=lambda: env_text("TOLLWAY_BILLING_INSTANCE", "0"))
    key_rotation_overlap_s: int = field(
        default_factory=lambda: env_int("TOLLWAY_KEY_ROTATION_OVERLAP_S", 86400)
    )
    rules: Rules = field(default_factory=_rules)
    #: How often billing writes a clock tick to each partition it owns: month turns, hold
    #: and key expiry happen at most this late when an account has no traffic.
    clock_tick_s: float = field(default_factory=lambda: env_float("TOLLWAY_CLOCK_TICK_S", 10))
    #: Where webhook signing secrets derive from (``schemas.webhooks``), read when first
    #: needed: a billing that registers no webhook never makes the key.
    data_dir: Path = field(default_factory=lambda: env_path("TOLLWAY_DATA_DIR", "data"))
    #: TOLLWAY_WEBHOOK_KEY, checked at startup (else the key file above is used).
    webhook_key: bytes | None = field(default_factory=given_master_key, repr=False)
    #: Accept http:// webhook URLs (local runs and tests); else HTTPS only.
    webhooks_allow_http: bool = field(
        default_factory=lambda: env_flag("TOLLWAY_WEBHOOK_ALLOW_HTTP", False)
    )
    #: How long a member's sign-in session lasts (signing out, or a password change, ends
    #: it sooner).
    session_ttl_s: int = field(default_factory=lambda: env_int("TOLLWAY_SESSION_TTL_S", 12 * 3600))
