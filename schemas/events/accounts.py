"""Account status, the record every gateway holds in memory.

Compacted topic ``tollway.account-status`` (key: account_id): the last record
per account is its current state. ``sequence`` grows with every record billing
writes for an account, so a reader can drop a stale one.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.money import NanoUSD, NonNegativeNanoUSD

from ._base import Event

__all__ = ["AccountStatus", "AccountStatusChanged", "Plan"]

AccountStatus = Literal["active", "insufficient_balance", "quota_exceeded", "suspended"]


class Plan(BaseModel):
    """Limits an account's keys get. ``None`` means unlimited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "default"
    monthly_token_quota: int | None = Field(default=None, ge=0)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)


class AccountStatusChanged(Event):
    TYPE: ClassVar[str] = "account.status_changed"
    VERSION: ClassVar[int] = 1

    account_id: str = Field(min_length=1, max_length=64)
    name: str
    status: AccountStatus
    sequence: int = Field(ge=0)
    balance_nano: NanoUSD
    held_nano: NonNegativeNanoUSD
    available_nano: NanoUSD
    month_tokens: int = Field(ge=0)
    plan_name: str = "default"
    monthly_token_quota: int | None = Field(default=None, ge=0)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
