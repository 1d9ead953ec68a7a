"""Billing's own records on Kafka: the account snapshot changelog and command results.

``AccountSnapshot`` (compacted ``tollway.balances``, key: account_id) is the
whole state billing keeps for an account; a consumer that takes over a
partition restores from it. ``CommandResult`` (``tollway.command-results``)
answers each billing command, so the admin API can tell an operator what
happened to the command it wrote.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.money import NanoUSD, NonNegativeNanoUSD

from ._base import Event
from .accounts import AccountStatus, Plan
from .api_keys import ApiKeyRecorded

__all__ = ["AccountSnapshot", "CommandResult", "Hold"]


class Hold(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount_nano: NonNegativeNanoUSD
    placed_at: AwareDatetime


class AccountSnapshot(Event):
    TYPE: ClassVar[str] = "billing.account_snapshot"
    VERSION: ClassVar[int] = 1

    account_id: str
    name: str
    plan: Plan
    suspended: bool
    balance_nano: NanoUSD
    holds: dict[str, Hold]
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    month_tokens: int = Field(ge=0)
    last_top_up_nano: NonNegativeNanoUSD
    status: AccountStatus
    sequence: int = Field(ge=0)
    keys: dict[str, ApiKeyRecorded]
    #: Idempotency keys of applied commands and ids of charged requests, with when.
    applied: dict[str, AwareDatetime]
    #: Ledger entries written so far (their entry_ids count from here).
    entries: int = Field(ge=0)
    #: Low-balance thresholds already alerted (re-armed when the balance rises above).
    alerted: tuple[str, ...] = ()


class CommandResult(Event):
    TYPE: ClassVar[str] = "billing.command_result"
    VERSION: ClassVar[int] = 1

    command_id: str
    account_id: str
    outcome: Literal["applied", "duplicate", "rejected"]
    reason: str = ""
    balance_nano: NanoUSD = 0
    available_nano: NanoUSD = 0
    status: str = ""
