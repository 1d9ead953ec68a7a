"""Billing's configurable rules (from settings), passed to the pure domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from schemas.money import NANO_PER_USD

__all__ = ["Rules"]


@dataclass(frozen=True)
class Rules:
    min_top_up_nano: int = 10 * NANO_PER_USD
    #: Service fee in basis points of the top-up amount (500 = 5%).
    fee_bps: int = 500
    #: ``deduct``: the fee comes out of the amount paid (balance grows by amount - fee);
    #: ``add``: the customer pays amount + fee and the balance grows by the full amount.
    fee_mode: Literal["deduct", "add"] = "deduct"
    #: max_tokens assumed for a hold when a request does not say.
    default_max_output_tokens: int = 4096
    #: Holds never released (a gateway died mid-request) expire after this.
    hold_ttl: timedelta = timedelta(minutes=15)
    #: Low-balance alerts: when available falls to a share of the last top-up (basis
    #: points) or to a fixed amount.
    alert_share_of_top_up_bps: int = 2000
    alert_absolute_nano: int = NANO_PER_USD
    #: How long request ids and idempotency keys are remembered for deduplication.
    dedup_window: timedelta = timedelta(days=8)
    #: The free plan's monthly token quota (input and output tokens, all keys together).
    free_monthly_tokens: int = 1_000_000
