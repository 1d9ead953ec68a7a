"""An account's members: who they are, their developer access, their sign-in sessions, and
what each change does to their keys. Pure, like ``account.py``: every function takes the
account's state and a command and returns the records to write (members, sessions, keys,
alerts), or raises ``Rejected`` naming the rule.

Access moves ``none -> requested -> approved -> revoked -> approved…``; an owner is added
``approved``. Keys follow it: revoking access marks each of the member's keys
``access_revoked`` (the gateway answers 403), approving again lifts the mark. Removing a
member ends their sessions and revokes their keys for good.
"""

from __future__ import annotations

from datetime import datetime

from schemas.events import (
    AddMember,
    ApiKeyRecorded,
    ApproveDeveloperAccess,
    ChangePassword,
    Command,
    DeveloperAccessRequested,
    EndSessions,
    Event,
    MemberRecorded,
    RemoveMember,
    RequestDeveloperAccess,
    RevokeDeveloperAccess,
    SessionRecorded,
    StartSession,
)

from .account import AccountState, Rejected

__all__ = [
    "MAX_MEMBERS",
    "MAX_SESSIONS",
    "MEMBER_COMMANDS",
    "apply_member_command",
    "expire_sessions",
    "key_owner_may_create",
]

#: Members an account may have (removed ones count: their ids stay reserved).
MAX_MEMBERS = 1000
#: Active sessions a member may hold; signing in once more ends the oldest.
MAX_SESSIONS = 20

MEMBER_COMMANDS = (
    AddMember,
    RemoveMember,
    RequestDeveloperAccess,
    ApproveDeveloperAccess,
    RevokeDeveloperAccess,
    ChangePassword,
    StartSession,
    EndSessions,
)


def apply_member_command(state: AccountState, command: Command, now: datetime) -> list[Event]:
    if isinstance(command, AddMember):
        return _add(state, command, now)
    member = _member(state, command.member_id)  # type: ignore[attr-defined]
    if isinstance(command, RemoveMember):
        return _remove(state, member, now)
    if isinstance(command, RequestDeveloperAccess):
        return _request(member, command, now, state)
    if isinstance(command, ApproveDeveloperAccess):
        if member.access == "approved":
            raise Rejected("access_already_approved", f"{member.email} already has access")
        return [_put(state, member, now, access="approved"), *_keys(state, member, now, False)]
    if isinstance(command, RevokeDeveloperAccess):
        if member.access != "approved":
            raise Rejected(
                "access_not_approved", f"{member.email} has no developer access to revoke"
            )
        return [_put(state, member, now, access="revoked"), *_keys(state, member, now, True)]
    if isinstance(command, ChangePassword):
        updated = _put(state, member, now, password_hash=command.password_hash)
        return [updated, *_end(state, member.member_id, now, keep=command.keep_session_id)]
    if isinstance(command, StartSession):
        return _start(state, member, command, now)
    if isinstance(command, EndSessions):
        if command.session_id is not None:
            session = state.sessions.get(command.session_id)
            if session is None or session.member_id != member.member_id:
                raise Rejected("session_not_found", "no such active session")
            return [_close(state, session, now, "revoked")]
        return [*_end(state, member.member_id, now)]
    raise Rejected("unknown_command", f"unknown command {command.TYPE}")


def key_owner_may_create(state: AccountState, member_id: str | None) -> None:
    """A key made for a member needs the member's developer access."""
    if member_id is None:
        return
    member = _member(state, member_id)
    if member.access != "approved":
        raise Rejected(
            "developer_access_required",
            f"{member.email} needs developer access (ask for it, and an operator approves it) "
            "before creating keys",
        )


def expire_sessions(state: AccountState, now: datetime) -> list[SessionRecorded]:
    """Sessions past their expiry, closed (on a clock tick, as hold expiry is)."""
    done = [s for s in state.sessions.values() if s.expires_at <= now]
    return [_close(state, s, now, "expired") for s in done]


# -- the commands --------------------------------------------------------------------------


def _add(state: AccountState, command: AddMember, now: datetime) -> list[Event]:
    if command.member_id in state.members:
        raise Rejected("member_exists", f"member {command.member_id} already exists")
    if any(m.email == command.email and m.status == "active" for m in state.members.values()):
        raise Rejected("email_taken", f"{command.email} is already a member of this account")
    if len(state.members) >= MAX_MEMBERS:
        raise Rejected("member_limit", f"an account has at most {MAX_MEMBERS} members")
    member = MemberRecorded.model_construct(
        event_id=f"{command.member_id}:{now.isoformat()}",
        occurred_at=now,
        member_id=command.member_id,
        account_id=state.account_id,
        email=command.email,
        role=command.role,
        access="approved" if command.role == "owner" else "none",
        status="active",
        password_hash=command.password_hash,
        created_at=now,
    )
    state.members[member.member_id] = member
    return [member]


def _remove(state: AccountState, member: MemberRecorded, now: datetime) -> list[Event]:
    out: list[Event] = [
        _put(state, member, now, status="removed"),
        *_end(state, member.member_id, now),
    ]
    for record in list(state.keys.values()):
        if record.member_id == member.member_id and record.status == "active":
            revoked = record.model_copy(update={"status": "revoked", "occurred_at": now})
            state.keys[record.key_id] = revoked
            out.append(revoked)
    return out


def _request(
    member: MemberRecorded, command: RequestDeveloperAccess, now: datetime, state: AccountState
) -> list[Event]:
    if member.access == "approved":
        raise Rejected("access_already_approved", f"{member.email} already has access")
    if member.access == "requested":
        return []  # asked again while waiting: one request, one alert
    alert = DeveloperAccessRequested.model_construct(
        event_id=f"{member.member_id}:access:{now.isoformat()}",
        occurred_at=now,
        account_id=state.account_id,
        member_id=member.member_id,
        email=member.email,
        note=command.note,
    )
    return [_put(state, member, now, access="requested"), alert]


def _start(
    state: AccountState, member: MemberRecorded, command: StartSession, now: datetime
) -> list[Event]:
    if command.session_id in state.sessions:
        raise Rejected("session_exists", f"session {command.session_id} already exists")
    if command.expires_at <= now:
        raise Rejected("session_expired", "the session would have expired already")
    mine = sorted(
        (s for s in state.sessions.values() if s.member_id == member.member_id),
        key=lambda s: s.created_at,
    )
    out: list[Event] = [
        _close(state, s, now, "revoked") for s in mine[: max(len(mine) - MAX_SESSIONS + 1, 0)]
    ]
    session = SessionRecorded.model_construct(
        event_id=f"{command.session_id}:{now.isoformat()}",
        occurred_at=now,
        session_id=command.session_id,
        member_id=member.member_id,
        account_id=state.account_id,
        token_hash=command.token_hash,
        status="active",
        created_at=now,
        expires_at=command.expires_at,
    )
    state.sessions[session.session_id] = session
    return [*out, session]


# -- helpers -------------------------------------------------------------------------------


def _member(state: AccountState, member_id: str) -> MemberRecorded:
    member = state.members.get(member_id)
    if member is None or member.status != "active":
        raise Rejected(
            "member_not_found", f"member {member_id} is not a member of {state.account_id}"
        )
    return member


def _put(
    state: AccountState, member: MemberRecorded, now: datetime, **change: str
) -> MemberRecorded:
    updated = member.model_copy(
        update={**change, "event_id": f"{member.member_id}:{now.isoformat()}", "occurred_at": now}
    )
    state.members[member.member_id] = updated
    return updated


def _keys(
    state: AccountState, member: MemberRecorded, now: datetime, revoked: bool
) -> list[ApiKeyRecorded]:
    out = []
    for record in list(state.keys.values()):
        if record.member_id == member.member_id and record.access_revoked != revoked:
            updated = record.model_copy(update={"access_revoked": revoked, "occurred_at": now})
            state.keys[record.key_id] = updated
            out.append(updated)
    return out


def _close(
    state: AccountState, session: SessionRecorded, now: datetime, status: str
) -> SessionRecorded:
    del state.sessions[session.session_id]
    return session.model_copy(
        update={"status": status, "occurred_at": now, "event_id": f"{session.session_id}:{status}"}
    )


def _end(
    state: AccountState, member_id: str, now: datetime, keep: str | None = None
) -> list[SessionRecorded]:
    mine = [s for s in state.sessions.values() if s.member_id == member_id and s.session_id != keep]
    return [_close(state, s, now, "revoked") for s in mine]
