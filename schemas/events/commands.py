"""Billing commands on ``tollway.billing-commands`` (key: account_id).

Operators' intents, imperative names. They go through Kafka, not straight to
a database, so the billing consumer that owns an account applies them in
order with that account's usage. Each carries an ``idempotency_key``: a
command retried with the same key is applied once.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, Field

from schemas.limits import NAME_MAX, NameField, ReasonField
from schemas.money import MovementNanoUSD

from ._base import Event
from .accounts import Plan
from .api_keys import KeyPolicy
from .members import EMAIL_MAX, MemberRole

__all__ = [
    "AddMember",
    "AdjustBalance",
    "ApproveDeveloperAccess",
    "ChangePassword",
    "ChangePlan",
    "Command",
    "CreateAccount",
    "CreateApiKey",
    "EndSessions",
    "ReactivateAccount",
    "RemoveMember",
    "RequestDeveloperAccess",
    "RevokeApiKey",
    "RevokeDeveloperAccess",
    "RotateApiKey",
    "StartSession",
    "SuspendAccount",
    "TopUp",
]

_Id = Field(min_length=1, max_length=64)
#: Clients' keys are at most ``IDEMPOTENCY_KEY_MAX``; billing prefixes them with what they do.
_IdempotencyKey = Field(min_length=1, max_length=200)


class Command(Event):
    """What every billing command carries."""

    account_id: str = _Id
    idempotency_key: str = _IdempotencyKey
    #: Who wrote the command, for the audit trail: an admin token's name, or
    #: ``member:<member_id>`` for a member's own action.
    actor: str | None = Field(default=None, max_length=80)


class CreateAccount(Command, type="account.create"):
    name: NameField
    plan: Plan = Plan()


class ChangePlan(Command, type="account.change_plan"):
    """An operator moves the account to another plan, effective when billing applies it."""

    plan: Plan
    reason: ReasonField = ""


class SuspendAccount(Command, type="account.suspend"):
    reason: ReasonField = ""


class ReactivateAccount(Command, type="account.reactivate"):
    pass


class CreateApiKey(Command, type="api_key.create"):
    key_id: str = _Id
    name: Annotated[str, Field(max_length=NAME_MAX)] = ""
    prefix: str = Field(min_length=1, max_length=32)
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    policy: KeyPolicy | None = None
    expires_at: AwareDatetime | None = None
    #: The member the key belongs to (who needs developer access), or None: the account's.
    member_id: str | None = Field(default=None, max_length=64)


class RevokeApiKey(Command, type="api_key.revoke"):
    key_id: str = _Id


class RotateApiKey(Command, type="api_key.rotate"):
    """Create ``new_key_id`` and let ``key_id`` live on until ``old_key_expires_at``."""

    key_id: str = _Id
    new_key_id: str = _Id
    prefix: str = Field(min_length=1, max_length=32)
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    old_key_expires_at: AwareDatetime


class TopUp(Command, type="balance.top_up"):
    """Money received. The service fee is computed by billing from its settings."""

    amount_nano: MovementNanoUSD = Field(gt=0)


class AdjustBalance(Command, type="balance.adjust"):
    """A signed correction (or a refund, with ``refund=True``), with a reason."""

    amount_nano: MovementNanoUSD
    reason: ReasonField = Field(min_length=1)
    refund: bool = False


# -- members ---------------------------------------------------------------------------------


class _MemberCommand(Command):
    member_id: str = _Id


class AddMember(_MemberCommand, type="member.add"):
    """An operator adds a person to the account (a developer without access yet, or an
    owner, who has it)."""

    email: str = Field(min_length=3, max_length=EMAIL_MAX)
    role: MemberRole = "developer"
    password_hash: str = Field(min_length=1, max_length=512)


class RemoveMember(_MemberCommand, type="member.remove"):
    """The member leaves: their sessions end and their keys are revoked."""

    reason: ReasonField = ""


class RequestDeveloperAccess(_MemberCommand, type="member.request_access"):
    note: str = Field(default="", max_length=500)


class ApproveDeveloperAccess(_MemberCommand, type="member.approve_access"):
    pass


class RevokeDeveloperAccess(_MemberCommand, type="member.revoke_access"):
    """The member's keys are refused (403 ``developer_access_revoked``) until approved again."""

    reason: ReasonField = ""


class ChangePassword(_MemberCommand, type="member.change_password"):
    """A new password hash; every other session of the member ends."""

    password_hash: str = Field(min_length=1, max_length=512)
    keep_session_id: str | None = Field(default=None, max_length=64)


class StartSession(_MemberCommand, type="member.start_session"):
    """A member signed in (the password was checked before this was written)."""

    session_id: str = _Id
    token_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    expires_at: AwareDatetime


class EndSessions(_MemberCommand, type="member.end_sessions"):
    """Sign out: one session, or (``session_id`` None) every session of the member."""

    session_id: str | None = Field(default=None, max_length=64)
