"""Members: what operators do to them (add, approve or revoke developer access, remove) and
what a member does with their own credentials (sign in and out, change the password, ask
for access, manage their keys). Every change is a command billing applies in the account's
order (``domain/members.py``); reads come from the admin view.

Sessions are opaque bearer tokens (``tws_`` + 43 url-safe characters, 256 bits). Only their
sha256 is written; a session is valid while the view holds it active, its member is active
and it has not expired, so signing out, a password change, removal or expiry ends it in
every billing process as soon as each reads the record (milliseconds).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import (
    AddMember,
    ApiKeyRecorded,
    ApproveDeveloperAccess,
    ChangePassword,
    EndSessions,
    MemberRecorded,
    MemberRole,
    RemoveMember,
    RequestDeveloperAccess,
    RevokeDeveloperAccess,
    SessionRecorded,
    StartSession,
)

from ..domain.keys import digest
from ..errors import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized
from .admin import AdminRuntime, known, submit
from .commands import idempotency

__all__ = [
    "Caller",
    "add",
    "authenticate",
    "change_password",
    "listed",
    "member_view",
    "my_key",
    "my_keys",
    "remove",
    "request_access",
    "set_access",
    "sign_in",
    "sign_out",
]

SESSION_PREFIX = "tws_"
_FAILED = "Incorrect email or password."


@dataclass(frozen=True)
class Caller:
    member: MemberRecorded
    session: SessionRecorded

    @property
    def actor(self) -> str:
        return f"member:{self.member.member_id}"


def member_view(m: MemberRecorded) -> dict[str, Any]:
    """A member as the APIs show it: never the password hash."""
    return {
        "member_id": m.member_id,
        "account_id": m.account_id,
        "email": m.email,
        "role": m.role,
        "developer_access": m.access,
        "status": m.status,
        "created_at": m.created_at.isoformat(),
    }


def _known_member(rt: AdminRuntime, member_id: str) -> MemberRecorded:
    member = rt.view.members.get(member_id)
    if member is None or member.status != "active":
        raise NotFound(f"No member {member_id}.", "member_id", "member_not_found")
    return member


# -- operators ----------------------------------------------------------------------------------


async def add(
    rt: AdminRuntime, account_id: str, email: str, role: MemberRole, idem: str | None, actor: str
) -> dict[str, Any]:
    """Add a member with a generated first password, shown once (they change it)."""
    known(rt, account_id)
    if email in rt.view.emails:
        raise Conflict(f"{email} is already a member.", "email", "email_taken")
    password = secrets.token_urlsafe(18)
    event = AddMember(
        account_id=account_id,
        member_id="mem_" + secrets.token_hex(8),
        email=email,
        role=role,
        password_hash=await rt.passwords.hash(password),
        idempotency_key=idempotency(idem, "member"),
        actor=actor,
    )
    result = await submit(rt, event, lambda: event.member_id in rt.view.members)
    shown = {
        "member_id": event.member_id,
        "email": email,
        "role": role,
        "developer_access": "approved" if role == "owner" else "none",
        "password": password,
        "note": "The first password is shown once; the member signs in with it and changes it.",
    }
    return result | shown


def listed(rt: AdminRuntime, account_id: str | None, access: str | None) -> list[dict[str, Any]]:
    if account_id is not None:
        known(rt, account_id)
    members = rt.view.members_of(account_id) if account_id else list(rt.view.members.values())
    return [
        member_view(m)
        for m in members
        if m.status == "active" and (access is None or m.access == access)
    ]


async def set_access(
    rt: AdminRuntime, member_id: str, approve: bool, reason: str, actor: str
) -> dict[str, Any]:
    member = _known_member(rt, member_id)
    wanted = "approved" if approve else "revoked"
    event: ApproveDeveloperAccess | RevokeDeveloperAccess
    if approve:
        event = ApproveDeveloperAccess(
            account_id=member.account_id,
            member_id=member_id,
            idempotency_key=idempotency(None, "access"),
            actor=actor,
        )
    else:
        event = RevokeDeveloperAccess(
            account_id=member.account_id,
            member_id=member_id,
            reason=reason,
            idempotency_key=idempotency(None, "access"),
            actor=actor,
        )
    result = await submit(rt, event, lambda: rt.view.members[member_id].access == wanted)
    return result | {"member_id": member_id, "developer_access": wanted}


async def remove(rt: AdminRuntime, member_id: str, reason: str, actor: str) -> dict[str, Any]:
    member = _known_member(rt, member_id)
    event = RemoveMember(
        account_id=member.account_id,
        member_id=member_id,
        reason=reason,
        idempotency_key=idempotency(None, "remove"),
        actor=actor,
    )
    result = await submit(rt, event, lambda: rt.view.members[member_id].status == "removed")
    return result | {"member_id": member_id, "status": "removed"}


# -- a member's own ---------------------------------------------------------------------------


async def sign_in(rt: AdminRuntime, email: str, password: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    wait = rt.sign_ins.retry_after(email, now)
    if wait is not None:
        raise TooManyRequests(
            "Too many failed sign-ins for this email; try again later.",
            code="too_many_sign_in_attempts",
            headers={"Retry-After": str(int(wait))},
        )
    member_id = rt.view.emails.get(email)
    member = rt.view.members.get(member_id) if member_id else None
    if not await rt.passwords.verify(member.password_hash if member else None, password):
        rt.sign_ins.failed(email, now)
        raise Unauthorized(_FAILED, code="invalid_credentials")
    assert member is not None  # verify() is False without one
    rt.sign_ins.succeeded(email)
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    event = StartSession(
        account_id=member.account_id,
        member_id=member.member_id,
        session_id="ses_" + secrets.token_hex(8),
        token_hash=digest(token),
        expires_at=now + timedelta(seconds=rt.session_ttl_s),
        idempotency_key=idempotency(None, "session"),
        actor=f"member:{member.member_id}",
    )
    result = await submit(rt, event, lambda: event.token_hash in rt.view.sessions)
    if result["outcome"] != "applied":
        raise Conflict("Signing in did not complete; try again.", code="sign_in_pending")
    return {
        "object": "session",
        "session_id": event.session_id,
        "token": token,
        "expires_at": event.expires_at.isoformat(),
        "member": member_view(member),
        "note": "Send the token as 'Authorization: Bearer <token>' to /v1/me.",
    }


def authenticate(rt: AdminRuntime, authorization: str) -> Caller:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(SESSION_PREFIX):
        raise Unauthorized(
            "Sign in first: POST /v1/me/sessions with your email and password, then send "
            "the token as 'Authorization: Bearer <token>'.",
            code="invalid_session",
        )
    session = rt.view.sessions.get(digest(token.strip()))
    member = rt.view.members.get(session.member_id) if session else None
    if (
        session is None
        or member is None
        or member.status != "active"
        or session.expires_at <= datetime.now(UTC)
    ):
        raise Unauthorized(
            "This session has ended (signed out, expired or revoked); sign in again.",
            code="invalid_session",
        )
    return Caller(member, session)


async def sign_out(rt: AdminRuntime, caller: Caller, every: bool) -> dict[str, Any]:
    session_id = None if every else caller.session.session_id
    event = EndSessions(
        account_id=caller.member.account_id,
        member_id=caller.member.member_id,
        session_id=session_id,
        idempotency_key=idempotency(None, "signout"),
        actor=caller.actor,
    )
    ended = caller.session.token_hash
    result = await submit(rt, event, lambda: ended not in rt.view.sessions)
    return result | {"signed_out": "every session" if every else "this session"}


async def change_password(
    rt: AdminRuntime, caller: Caller, current: str, new: str
) -> dict[str, Any]:
    if not await rt.passwords.verify(caller.member.password_hash, current):
        raise BadRequest(
            "The current password is not right.", "current_password", "invalid_credentials"
        )
    if current == new:
        raise BadRequest("The new password is the current one.", "new_password")
    event = ChangePassword(
        account_id=caller.member.account_id,
        member_id=caller.member.member_id,
        password_hash=await rt.passwords.hash(new),
        keep_session_id=caller.session.session_id,
        idempotency_key=idempotency(None, "password"),
        actor=caller.actor,
    )
    member_id, old = caller.member.member_id, caller.member.password_hash
    result = await submit(rt, event, lambda: rt.view.members[member_id].password_hash != old)
    return result | {"note": "Password changed; your other sessions have ended."}


async def request_access(rt: AdminRuntime, caller: Caller, note: str) -> dict[str, Any]:
    if caller.member.access == "approved":
        raise Conflict("You already have developer access.", code="access_already_approved")
    event = RequestDeveloperAccess(
        account_id=caller.member.account_id,
        member_id=caller.member.member_id,
        note=note,
        idempotency_key=idempotency(None, "ask"),
        actor=caller.actor,
    )
    member_id = caller.member.member_id
    result = await submit(rt, event, lambda: rt.view.members[member_id].access == "requested")
    return result | {
        "developer_access": "requested",
        "note": "An operator of this Tollway approves it; you can create keys from then on.",
    }


def my_keys(rt: AdminRuntime, caller: Caller) -> list[ApiKeyRecorded]:
    """A developer's own keys; an owner's: every key of the account."""
    keys = rt.view.keys_of(caller.member.account_id)
    if caller.member.role == "owner":
        return keys
    return [k for k in keys if k.member_id == caller.member.member_id]


def my_key(rt: AdminRuntime, caller: Caller, key_id: str) -> ApiKeyRecorded:
    for key in my_keys(rt, caller):
        if key.key_id == key_id:
            return key
    raise NotFound(f"No API key {key_id} of yours.", "key_id", "key_not_found")
