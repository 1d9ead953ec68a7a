"""Account status, the record every gateway holds in memory.

Compacted topic ``tollway.account-status`` (key: account_id): the last record
per account is its current state. ``sequence`` grows with every record billing
writes for an account, so a reader can drop a stale one.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.limits import MAX_TOKENS
from schemas.money import NanoUSD, NonNegativeNanoUSD

from ._base import Event

__all__ = ["AccountStatus", "AccountStatusChanged", "Plan"]

AccountStatus = Literal["active", "insufficient_balance", "quota_exceeded", "suspended"]


class Plan(BaseModel):
    """Limits an account's keys get. ``None`` means unlimited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)] = "default"
    monthly_token_quota: int | None = Field(default=None, ge=0, le=MAX_TOKENS * 10**3)
    requests_per_minute: int | None = Field(default=None, ge=1, le=10**9)
    tokens_per_minute: int | None = Field(default=None, ge=1, le=MAX_TOKENS)


class AccountStatusChanged(Event, type="account.status_changed"):
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
    #: Per gateway process (its ``producer`` id): every request event of this account that
    #: process numbered below this has been applied, and is in ``available_nano``. A gateway
    #: counts its own reservation for a request it admitted until then.
    applied_through: dict[str, int] = Field(default_factory=dict, max_length=1000)
