"""Ledger entries, written by billing (transactionally) on ``tollway.ledger`` (key: account_id).

Every movement of an account's balance is one entry; a balance is the sum of
its entries. Amounts are signed nano-USD: credits positive, debits negative.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.money import NanoUSD, NonNegativeNanoUSD

from ._base import Event

__all__ = ["LedgerEntryKind", "LedgerEntryRecorded"]

LedgerEntryKind = Literal["top_up", "service_fee", "charge", "adjustment", "refund"]


class LedgerEntryRecorded(Event, type="ledger.entry_recorded"):
    entry_id: str = Field(min_length=1, max_length=128)
    account_id: str = Field(min_length=1, max_length=64)
    kind: LedgerEntryKind
    amount_nano: NanoUSD
    balance_after_nano: NanoUSD
    #: The command or request event this entry answers (for support trails).
    cause_event_id: str
    request_id: str | None = None
    idempotency_key: str | None = None
    reason: str | None = None
    #: Who made a manual entry (top-ups, adjustments, refunds): the admin token's name.
    actor: str | None = Field(default=None, max_length=64)
    # Charges only: what was priced, at which price version.
    model: str | None = None
    price_version: str | None = None
    input_cost_nano: NonNegativeNanoUSD = 0
    output_cost_nano: NonNegativeNanoUSD = 0
    cache_read_cost_nano: NonNegativeNanoUSD = 0
    cache_write_cost_nano: NonNegativeNanoUSD = 0
