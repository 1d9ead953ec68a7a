"""Billing's own records on Kafka: the account snapshot changelog and command results.

``AccountSnapshot`` (compacted ``tollway.balances``, key: account_id) is the
whole state billing keeps for an account; a consumer that takes over a
partition restores from it. ``CommandResult`` (``tollway.command-results``)
answers each billing command, so the admin API can tell an operator what
happened to the command it wrote.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.money import NanoUSD, NonNegativeNanoUSD

from ._base import Event
from .accounts import AccountStatus, Plan
from .api_keys import ApiKeyRecorded
from .members import MemberRecorded, SessionRecorded

__all__ = ["AccountSnapshot", "CommandResult", "Hold", "KeySpend", "ProducerStream"]


class Hold(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount_nano: NonNegativeNanoUSD
    placed_at: AwareDatetime
    #: The key whose request it is (it counts against that key's spend limit too).
    key_id: str = ""


class KeySpend(BaseModel):
    """What a key with a spend limit has been charged in its current period."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: ``2026-12-02`` (a day), ``2026-12`` (a month) or ``total``.
    period: str = Field(max_length=10)
    spent_nano: NonNegativeNanoUSD


class ProducerStream(BaseModel):
    """How far billing has applied one gateway process's events for an account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The next producer_seq expected; every lower one was applied or is in ``missing``.
    next_seq: int = Field(ge=1)
    #: Lower numbers not seen yet (an event overtaken by a later one): applied when they come.
    missing: tuple[int, ...] = ()
    last_seen: AwareDatetime


class AccountSnapshot(Event, type="billing.account_snapshot"):
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
    #: Per gateway process, which of its request events were applied (the dedup of request
    #: events that carry producer and producer_seq; ``applied`` holds the others).
    streams: dict[str, ProducerStream] = {}
    #: Ledger entries written so far (their entry_ids count from here).
    entries: int = Field(ge=0)
    #: Low-balance thresholds already alerted (re-armed when the balance rises above).
    alerted: tuple[str, ...] = ()
    #: A short digest of the command each idempotency key in ``applied`` was used for.
    fingerprints: dict[str, str] = {}
    #: Per key with a spend limit, its charges in the current period.
    key_spend: dict[str, KeySpend] = {}
    #: The account's members (removed ones too: their ids are never reused) and their
    #: sessions still active.
    members: dict[str, MemberRecorded] = {}
    sessions: dict[str, SessionRecorded] = {}


class CommandResult(Event, type="billing.command_result"):
    command_id: str
    account_id: str
    outcome: Literal["applied", "duplicate", "rejected"]
    reason: str = ""
    #: Which rule refused a rejected command (``account_not_found``, ``balance_limit``,
    #: ``idempotency_conflict``…): the admin API's status follows from it.
    code: str = ""
    balance_nano: NanoUSD = 0
    available_nano: NanoUSD = 0
    status: str = ""
