"""The commands an operator's call becomes: ids minted, idempotency keys defaulted, a
rotated key's overlap turned into an expiry. Routes parse the body and call one of these;
billing's engine decides whether the command applies (``domain/rules.py``)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from schemas.events import (
    AdjustBalance,
    ApiKeyRecorded,
    ChangePlan,
    CreateAccount,
    CreateApiKey,
    KeyPolicy,
    Plan,
    ReactivateAccount,
    RevokeApiKey,
    RotateApiKey,
    SuspendAccount,
    TopUp,
)

from ..domain.keys import NewKey, new_key

__all__ = [
    "adjust",
    "change_plan",
    "create_account",
    "create_key",
    "idempotency",
    "reactivate",
    "revoke_key",
    "rotate_key",
    "suspend",
    "top_up",
]


def idempotency(given: str | None, kind: str) -> str:
    """The caller's idempotency key, or a fresh one: then a retry is a new command."""
    return "idem:" + given if given is not None else f"{kind}:{secrets.token_hex(8)}"


def create_account(name: str, plan: Plan, idempotency_key: str | None, actor: str) -> CreateAccount:
    account_id = "acc_" + secrets.token_hex(8)
    return CreateAccount(
        account_id=account_id,
        name=name,
        plan=plan,
        idempotency_key=idempotency(idempotency_key, "create"),
        actor=actor,
    )


def change_plan(
    account_id: str, plan: Plan, reason: str, idempotency_key: str | None, actor: str
) -> ChangePlan:
    return ChangePlan(
        account_id=account_id,
        plan=plan,
        reason=reason,
        idempotency_key=idempotency(idempotency_key, "plan"),
        actor=actor,
    )


def suspend(
    account_id: str, reason: str, idempotency_key: str | None, actor: str
) -> SuspendAccount:
    return SuspendAccount(
        account_id=account_id,
        reason=reason,
        idempotency_key=idempotency(idempotency_key, "suspend"),
        actor=actor,
    )


def reactivate(account_id: str, idempotency_key: str | None, actor: str) -> ReactivateAccount:
    return ReactivateAccount(
        account_id=account_id,
        idempotency_key=idempotency(idempotency_key, "reactivate"),
        actor=actor,
    )


def create_key(
    account_id: str,
    name: str,
    actor: str,
    policy: KeyPolicy | None = None,
    expires_at: datetime | None = None,
    member_id: str | None = None,
) -> tuple[CreateApiKey, NewKey]:
    key = new_key()
    event = CreateApiKey(
        account_id=account_id,
        key_id=key.key_id,
        prefix=key.prefix,
        key_hash=key.key_hash,
        name=name,
        policy=policy,
        expires_at=expires_at,
        member_id=member_id,
        idempotency_key="key:" + key.key_id,
        actor=actor,
    )
    return event, key


def revoke_key(record: ApiKeyRecorded, actor: str) -> RevokeApiKey:
    return RevokeApiKey(
        account_id=record.account_id,
        key_id=record.key_id,
        idempotency_key="revoke:" + record.key_id,
        actor=actor,
    )


def rotate_key(
    record: ApiKeyRecorded, overlap_s: int, now: datetime, actor: str
) -> tuple[RotateApiKey, NewKey]:
    """A new key for ``record``'s account; the old one keeps working ``overlap_s`` more."""
    key = new_key()
    event = RotateApiKey(
        account_id=record.account_id,
        key_id=record.key_id,
        new_key_id=key.key_id,
        prefix=key.prefix,
        key_hash=key.key_hash,
        old_key_expires_at=now + timedelta(seconds=overlap_s),
        idempotency_key="rotate:" + key.key_id,
        actor=actor,
    )
    return event, key


def top_up(account_id: str, amount_nano: int, idempotency_key: str | None, actor: str) -> TopUp:
    return TopUp(
        account_id=account_id,
        amount_nano=amount_nano,
        idempotency_key=idempotency(idempotency_key, "topup"),
        actor=actor,
    )


def adjust(
    account_id: str,
    amount_nano: int,
    reason: str,
    refund: bool,
    idempotency_key: str | None,
    actor: str,
) -> AdjustBalance:
    return AdjustBalance(
        account_id=account_id,
        amount_nano=amount_nano,
        reason=reason,
        refund=refund,
        idempotency_key=idempotency(idempotency_key, "adjust"),
        actor=actor,
    )
