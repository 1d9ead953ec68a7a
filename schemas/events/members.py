"""An account's people on the compacted ``tollway.members`` topic: each member's record
(key: member_id) and each sign-in session's (key: session_id).

A member signs in with an email and a password; only an argon2id hash of the password is
ever written (the same rule as API keys: never the secret). A session is an opaque bearer
token of which only the sha256 is written; revoking one, or every session of a member, is
a record like any other, so every billing process refuses the token at once and a replay
rebuilds the same sessions.

Developer access: a ``developer`` asks for it, an operator approves it; only then may the
member create keys. Revoking it disables the member's keys (the gateway answers 403
``developer_access_revoked``) until it is approved again. An ``owner`` is added approved.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from ._base import Event

__all__ = [
    "DeveloperAccess",
    "DeveloperAccessRequested",
    "MemberRecorded",
    "MemberRole",
    "MemberStatus",
    "SessionRecorded",
    "SessionStatus",
]

MemberRole = Literal["owner", "developer"]
DeveloperAccess = Literal["none", "requested", "approved", "revoked"]
MemberStatus = Literal["active", "removed"]
SessionStatus = Literal["active", "revoked", "expired"]

#: RFC 5321's limit on an address; the form itself is checked where it is given.
EMAIL_MAX = 254
_Id = Field(min_length=1, max_length=64)


class MemberRecorded(Event, type="member.recorded"):
    member_id: str = _Id
    account_id: str = _Id
    #: Lowercased; unique among the active members of every account.
    email: str = Field(min_length=3, max_length=EMAIL_MAX)
    role: MemberRole
    access: DeveloperAccess
    status: MemberStatus = "active"
    #: argon2id, in the PHC string format (algorithm, parameters, salt and hash).
    password_hash: str = Field(min_length=1, max_length=512)
    created_at: AwareDatetime


class SessionRecorded(Event, type="member.session"):
    session_id: str = _Id
    member_id: str = _Id
    account_id: str = _Id
    #: sha256 of the bearer token, lowercase hex.
    token_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    status: SessionStatus
    created_at: AwareDatetime
    expires_at: AwareDatetime


class DeveloperAccessRequested(Event, type="member.developer_access_requested"):
    """An alert (``tollway.alerts``): a member asks for developer access; an operator
    approves it with ``tollway members approve``."""

    account_id: str = _Id
    member_id: str = _Id
    email: str = Field(min_length=3, max_length=EMAIL_MAX)
    note: str = Field(default="", max_length=500)
