"""Billing commands on ``tollway.billing-commands`` (key: account_id).

Operators' intents, imperative names. They go through Kafka, not straight to
a database, so the billing consumer that owns an account applies them in
order with that account's usage. Each carries an ``idempotency_key``: a
command retried with the same key is applied once.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from schemas.money import NanoUSD

from ._base import Event
from .accounts import Plan

__all__ = [
    "AdjustBalance",
    "CreateAccount",
    "CreateApiKey",
    "ReactivateAccount",
    "RevokeApiKey",
    "RotateApiKey",
    "SuspendAccount",
    "TopUp",
]

_Id = Field(min_length=1, max_length=64)
_IdempotencyKey = Field(min_length=1, max_length=128)


class _Command(Event):
    account_id: str = _Id
    idempotency_key: str = _IdempotencyKey


class CreateAccount(_Command):
    TYPE: ClassVar[str] = "account.create"
    VERSION: ClassVar[int] = 1

    name: str = Field(min_length=1, max_length=200)
    plan: Plan = Plan()


class SuspendAccount(_Command):
    TYPE: ClassVar[str] = "account.suspend"
    VERSION: ClassVar[int] = 1

    reason: str = Field(default="", max_length=500)


class ReactivateAccount(_Command):
    TYPE: ClassVar[str] = "account.reactivate"
    VERSION: ClassVar[int] = 1


class CreateApiKey(_Command):
    TYPE: ClassVar[str] = "api_key.create"
    VERSION: ClassVar[int] = 1

    key_id: str = _Id
    name: str = Field(default="", max_length=200)
    prefix: str = Field(min_length=1, max_length=32)
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class RevokeApiKey(_Command):
    TYPE: ClassVar[str] = "api_key.revoke"
    VERSION: ClassVar[int] = 1

    key_id: str = _Id


class RotateApiKey(_Command):
    """Create ``new_key_id`` and let ``key_id`` live on until ``old_key_expires_at``."""

    TYPE: ClassVar[str] = "api_key.rotate"
    VERSION: ClassVar[int] = 1

    key_id: str = _Id
    new_key_id: str = _Id
    prefix: str = Field(min_length=1, max_length=32)
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    old_key_expires_at: AwareDatetime


class TopUp(_Command):
    """Money received. The service fee is computed by billing from its settings."""

    TYPE: ClassVar[str] = "balance.top_up"
    VERSION: ClassVar[int] = 1

    amount_nano: NanoUSD = Field(gt=0)


class AdjustBalance(_Command):
    """A signed correction (or a refund, with ``refund=True``), with a reason."""

    TYPE: ClassVar[str] = "balance.adjust"
    VERSION: ClassVar[int] = 1

    amount_nano: NanoUSD
    reason: str = Field(min_length=1, max_length=500)
    refund: bool = False
