"""Alerts on ``tollway.alerts`` (key: account_id, or the source topic), written by billing
and metering.

A low-balance alert fires once when an account's available balance crosses below a
threshold, and re-arms when the balance rises above it again (a top-up). An
``event.parked`` alert says a consumer met an event it could not apply and parked it on
``tollway.dead-letter`` (with the reason) to go on with the events after it.
"""

from __future__ import annotations

from pydantic import Field

from schemas.money import NanoUSD

from ._base import Event

__all__ = ["BalanceRanLow", "EventParked", "KeyLimitReached", "QuotaUsed"]


class BalanceRanLow(Event, type="account.balance_low"):
    account_id: str = Field(min_length=1, max_length=64)
    #: Which threshold: "absolute" (a fixed amount) or "share_of_last_top_up".
    threshold_kind: str
    threshold_nano: NanoUSD
    available_nano: NanoUSD
    last_top_up_nano: NanoUSD


class EventParked(Event, type="event.parked"):
    #: The consumer that parked it: "billing" or "metering".
    consumer: str = Field(min_length=1, max_length=32)
    #: topic/partition/offset of the parked record.
    source: str = Field(min_length=1, max_length=300)
    reason: str = Field(max_length=1000)
    #: The account the record was about, when it could be read.
    account_id: str | None = Field(default=None, max_length=64)


class KeyLimitReached(Event, type="api_key.limit_reached"):
    """A key's spend in its period reached its limit: its model calls are refused until
    the period turns (the account's other keys keep working)."""

    account_id: str = Field(min_length=1, max_length=64)
    key_id: str = Field(min_length=1, max_length=64)
    key_name: str = Field(default="", max_length=200)
    spend_limit_nano: NanoUSD
    spend_period: str = Field(max_length=8)


class QuotaUsed(Event, type="account.quota_used"):
    """An account has used a share (80 %, then 100 %) of its plan's monthly token quota;
    once each per month. At 100 % its keys get 429 until the month turns."""

    account_id: str = Field(min_length=1, max_length=64)
    percent: int = Field(ge=1, le=100)
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    month_tokens: int = Field(ge=0)
    monthly_token_quota: int = Field(ge=0)
    plan_name: str = Field(max_length=64)
