"""Low-balance alerts on ``tollway.alerts`` (key: account_id), written by billing.

An alert fires once when an account's available balance crosses below a
threshold, and re-arms when the balance rises above it again (a top-up).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from schemas.money import NanoUSD

from ._base import Event

__all__ = ["BalanceLow"]


class BalanceLow(Event):
    TYPE: ClassVar[str] = "account.balance_low"
    VERSION: ClassVar[int] = 1

    account_id: str = Field(min_length=1, max_length=64)
    #: Which threshold: "absolute" (a fixed amount) or "share_of_last_top_up".
    threshold_kind: str
    threshold_nano: NanoUSD
    available_nano: NanoUSD
    last_top_up_nano: NanoUSD
