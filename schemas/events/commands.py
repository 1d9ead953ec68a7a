"""Billing commands on ``tollway.billing-commands`` (key: account_id).

Operators' intents, imperative names. They go through Kafka, not straight to
a database, so the billing consumer that owns an account applies them in
order with that account's usage. Each carries an ``idempotency_key``: a
command retried with the same key is applied once.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

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


class CreateAccount(Command):
    TYPE: ClassVar[str] = "account.create"
    VERSION: ClassVar[int] = 1

    name: NameField
    plan: Plan = Plan()


class ChangePlan(Command):
    """An operator moves the account to another plan, effective when billing applies it."""

    TYPE: ClassVar[str] = "account.change_plan"
    VERSION: ClassVar[int] = 1

    plan: Plan
    reason: ReasonField = ""


class SuspendAccount(Command):
    TYPE: ClassVar[str] = "account.suspend"
    VERSION: ClassVar[int] = 1

    reason: ReasonField = ""


class ReactivateAccount(Command):
    TYPE: ClassVar[str] = "account.reactivate"
    VERSION: ClassVar[int] = 1


class CreateApiKey(Command):
    TYPE: ClassVar[str] = "api_key.create"
    VERSION: ClassVar[int] = 1

    key_id: str = _Id
    name: Annotated[str, Field(max_length=NAME_MAX)] = ""
    prefix: str = Field(min_length=1, max_length=32)
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    policy: KeyPolicy | None = None
    expires_at: AwareDatetime | None = None
    #: The member the key belongs to (who needs developer access), or None: the account's.
    member_id: str | None = Field(default=None, max_length=64)


class RevokeApiKey(Command):
    TYPE: ClassVar[str] = "api_key.revoke"
    VERSION: ClassVar[int] = 1

    key_id: str = _Id


class RotateApiKey(Command):
    """Create ``new_key_id`` and let ``key_id`` live on until ``old_key_expires_at``."""

    TYPE: ClassVar[str] = "api_key.rotate"
    VERSION: ClassVar[int] = 1

    key_id: str = _Id
    new_key_id: str = _Id
    prefix: str = Field(min_length=1, max_length=32)
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    old_key_expires_at: AwareDatetime


class TopUp(Command):
    """Money received. The service fee is computed by billing from its settings."""

    TYPE: ClassVar[str] = "balance.top_up"
    VERSION: ClassVar[int] = 1

    amount_nano: MovementNanoUSD = Field(gt=0)


class AdjustBalance(Command):
    """A signed correction (or a refund, with ``refund=True``), with a reason."""

    TYPE: ClassVar[str] = "balance.adjust"
    VERSION: ClassVar[int] = 1

    amount_nano: MovementNanoUSD
    reason: ReasonField = Field(min_length=1)
    refund: bool = False


# -- members ---------------------------------------------------------------------------------


class _MemberCommand(Command):
    member_id: str = _Id


class AddMember(_MemberCommand):
    """An operator adds a person to the account (a developer without access yet, or an
    owner, who has it)."""

    TYPE: ClassVar[str] = "member.add"
    VERSION: ClassVar[int] = 1

    email: str = Field(min_length=3, max_length=EMAIL_MAX)
    role: MemberRole = "developer"
    password_hash: str = Field(min_length=1, max_length=512)


class RemoveMember(_MemberCommand):
    """The member leaves: their sessions end and their keys are revoked."""

    TYPE: ClassVar[str] = "member.remove"
    VERSION: ClassVar[int] = 1

    reason: ReasonField = ""


class RequestDeveloperAccess(_MemberCommand):
    TYPE: ClassVar[str] = "member.request_access"
    VERSION: ClassVar[int] = 1

    note: str = Field(default="", max_length=500)


class ApproveDeveloperAccess(_MemberCommand):
    TYPE: ClassVar[str] = "member.approve_access"
    VERSION: ClassVar[int] = 1


class RevokeDeveloperAccess(_MemberCommand):
    """The member's keys are refused (403 ``developer_access_revoked``) until approved again."""

    TYPE: ClassVar[str] = "member.revoke_access"
    VERSION: ClassVar[int] = 1

    reason: ReasonField = ""


class ChangePassword(_MemberCommand):
    """A new password hash; every other session of the member ends."""

    TYPE: ClassVar[str] = "member.change_password"
    VERSION: ClassVar[int] = 1

    password_hash: str = Field(min_length=1, max_length=512)
    keep_session_id: str | None = Field(default=None, max_length=64)


class StartSession(_MemberCommand):
    """A member signed in (the password was checked before this was written)."""

    TYPE: ClassVar[str] = "member.start_session"
    VERSION: ClassVar[int] = 1

    session_id: str = _Id
    token_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    expires_at: AwareDatetime


class EndSessions(_MemberCommand):
    """Sign out: one session, or (``session_id`` None) every session of the member."""

    TYPE: ClassVar[str] = "member.end_sessions"
    VERSION: ClassVar[int] = 1

    session_id: str | None = Field(default=None, max_length=64)
