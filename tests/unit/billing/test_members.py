"""Members in billing's engine: developer access gates key creation, revoking it marks the
member's keys and approving lifts the mark, sessions are capped, expire on a clock tick and
end on sign-out, removal revokes for good, and a snapshot restores all of it exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import (
    AddMember,
    ApiKeyRecorded,
    ApproveDeveloperAccess,
    ChangePassword,
    ClockTicked,
    CommandResult,
    CreateAccount,
    CreateApiKey,
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
from schemas.prices import PriceBook
from schemas.topics import ALERTS, API_KEYS, MEMBERS
from services.billing.domain.account import AccountState
from services.billing.domain.members import MAX_SESSIONS
from services.billing.service_layer.engine import Engine, Output

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"
_n = 0


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _cmd(kind: type[Any], at: float = 1, **fields: Any) -> Any:
    global _n
    _n += 1
    return kind(account_id="a", idempotency_key=f"k{_n}", occurred_at=_at(at), **fields)


def _engine() -> Engine:
    engine = Engine(PriceBook([]))
    engine.apply(CreateAccount(account_id="a", name="Team", idempotency_key="c", occurred_at=T0))
    return engine


def _result(out: list[Output]) -> CommandResult:
    (result,) = [e for _, _, e in out if isinstance(e, CommandResult)]
    return result


def _records(out: list[Output], kind: type[Event]) -> list[Any]:
    return [e for _, _, e in out if isinstance(e, kind)]


def _key(engine: Engine, key_id: str, member: str | None, at: float = 5) -> list[Output]:
    return engine.apply(
        _cmd(
            CreateApiKey,
            at,
            key_id=key_id,
            prefix="tw_" + key_id,
            key_hash="0" * 64,
            member_id=member,
        )
    )


def _dev(engine: Engine, member_id: str = "m1", email: str = "dev@example.com") -> None:
    out = engine.apply(_cmd(AddMember, member_id=member_id, email=email, password_hash=HASH))
    assert _result(out).outcome == "applied"
    (member,) = _records(out, MemberRecorded)
    assert (member.role, member.access) == ("developer", "none")
    assert [t for t, _, e in out if e is member] == [MEMBERS]


def test_a_developer_creates_keys_only_once_an_operator_approves_access() -> None:
    engine = _engine()
    _dev(engine)
    refused = _result(_key(engine, "k1", "m1"))
    assert (refused.outcome, refused.code) == ("rejected", "developer_access_required")

    asked = engine.apply(_cmd(RequestDeveloperAccess, 2, member_id="m1", note="on the API team"))
    (alert,) = _records(asked, DeveloperAccessRequested)
    assert (alert.member_id, alert.email, alert.note) == (
        "m1",
        "dev@example.com",
        "on the API team",
    )
    assert [t for t, _, e in asked if e is alert] == [ALERTS]
    again = engine.apply(_cmd(RequestDeveloperAccess, 3, member_id="m1"))
    assert _records(again, DeveloperAccessRequested) == []  # one request, one alert

    approved = engine.apply(_cmd(ApproveDeveloperAccess, 4, member_id="m1"))
    assert _records(approved, MemberRecorded)[0].access == "approved"
    made = _key(engine, "k1", "m1")
    (key,) = _records(made, ApiKeyRecorded)
    assert (key.member_id, key.access_revoked) == ("m1", False)


def test_revoking_access_marks_the_members_keys_and_approving_again_lifts_the_mark() -> None:
    engine = _engine()
    _dev(engine)
    engine.apply(_cmd(ApproveDeveloperAccess, member_id="m1"))
    _key(engine, "k1", "m1")
    _key(engine, "k2", None)  # the account's own key, not the member's

    revoked = engine.apply(_cmd(RevokeDeveloperAccess, 6, member_id="m1", reason="left the team"))
    marked = _records(revoked, ApiKeyRecorded)
    assert [(k.key_id, k.access_revoked) for k in marked] == [("k1", True)]
    assert [t for t, _, e in revoked if e is marked[0]] == [API_KEYS]
    assert _result(_key(engine, "k3", "m1", 7)).code == "developer_access_required"

    back = engine.apply(_cmd(ApproveDeveloperAccess, 8, member_id="m1"))
    assert [(k.key_id, k.access_revoked) for k in _records(back, ApiKeyRecorded)] == [("k1", False)]
    assert _result(engine.apply(_cmd(ApproveDeveloperAccess, 9, member_id="m1"))).code == (
        "access_already_approved"
    )


def _session(engine: Engine, sid: str, at: float, ttl: float = 3600) -> list[Output]:
    return engine.apply(
        _cmd(
            StartSession,
            at,
            member_id="m1",
            session_id=sid,
            token_hash="1" * 64,
            expires_at=_at(at + ttl),
        )
    )


def test_sessions_are_capped_expire_on_a_tick_and_end_on_sign_out() -> None:
    engine = _engine()
    _dev(engine)
    for i in range(MAX_SESSIONS):
        _session(engine, f"s{i}", 10 + i)
    over = _session(engine, "s-new", 100)
    closed = [s for s in _records(over, SessionRecorded) if s.status == "revoked"]
    assert [s.session_id for s in closed] == ["s0"]  # the oldest made room
    assert len(engine.accounts["a"].sessions) == MAX_SESSIONS

    ticked = engine.tick(ClockTicked(partition=0, occurred_at=_at(11 + 3600 + 0.5)), {"a"})
    expired = [e for _, _, e in ticked if isinstance(e, SessionRecorded)]
    assert [(s.session_id, s.status) for s in expired] == [("s1", "expired")]
    touched = engine.touched_records()
    assert any(e.TYPE == "billing.account_snapshot" for _, _, e in touched)  # kept as closed

    one = engine.apply(_cmd(EndSessions, 200, member_id="m1", session_id="s5"))
    assert [s.session_id for s in _records(one, SessionRecorded)] == ["s5"]
    assert _result(engine.apply(_cmd(EndSessions, 201, member_id="m1", session_id="s5"))).code == (
        "session_not_found"
    )
    changed = engine.apply(
        _cmd(ChangePassword, 202, member_id="m1", password_hash=HASH + "2", keep_session_id="s9")
    )
    assert set(engine.accounts["a"].sessions) == {"s9"}  # every other session ended
    assert _records(changed, MemberRecorded)[0].password_hash == HASH + "2"


def test_a_removed_member_loses_sessions_and_keys_for_good_and_frees_the_email() -> None:
    engine = _engine()
    _dev(engine)
    engine.apply(_cmd(ApproveDeveloperAccess, member_id="m1"))
    _key(engine, "k1", "m1")
    _session(engine, "s1", 6)
    removed = engine.apply(_cmd(RemoveMember, 7, member_id="m1", reason="left"))
    assert [k.status for k in _records(removed, ApiKeyRecorded)] == ["revoked"]
    assert [s.status for s in _records(removed, SessionRecorded)] == ["revoked"]
    assert _result(engine.apply(_cmd(RequestDeveloperAccess, 8, member_id="m1"))).code == (
        "member_not_found"
    )
    taken = engine.apply(_cmd(AddMember, member_id="m2", email="x@example.com", password_hash=HASH))
    dup = engine.apply(_cmd(AddMember, member_id="m3", email="x@example.com", password_hash=HASH))
    assert (_result(taken).outcome, _result(dup).code) == ("applied", "email_taken")
    _dev(engine, "m4", "dev@example.com")  # the removed member's address is free again


def test_a_snapshot_restores_members_and_sessions_exactly() -> None:
    engine = _engine()
    _dev(engine)
    engine.apply(_cmd(RequestDeveloperAccess, member_id="m1"))
    _session(engine, "s1", 3)
    state = engine.accounts["a"]
    restored = AccountState.restore(state.snapshot(_at(9)))
    assert restored.members == state.members and restored.sessions == state.sessions
    assert restored.snapshot(_at(9)) == state.snapshot(_at(9))


def test_an_account_holds_a_bounded_number_of_active_keys(monkeypatch: Any) -> None:
    """Every key lives in the account's state and snapshots: a member scripting key creation
    must not grow them without end."""
    from services.billing.service_layer import engine as engine_module

    monkeypatch.setattr(engine_module, "MAX_ACTIVE_KEYS", 3)
    engine = _engine()
    for i in range(3):
        assert _result(_key(engine, f"k{i}", None)).outcome == "applied"
    refused = _result(_key(engine, "k3", None))
    assert (refused.outcome, refused.code) == ("rejected", "key_limit")


def test_keys_rotated_in_a_loop_do_not_grow_the_account_state(monkeypatch: Any) -> None:
    """Rotation leaves an expiring key behind each time; a clock tick forgets those past a
    day, and the oldest beyond a bound (a replay forgets the same ones)."""
    from schemas.events import RotateApiKey
    from services.billing.domain import account as account_module

    monkeypatch.setattr(account_module, "KEPT_INACTIVE_KEYS", 5)
    engine = _engine()
    _key(engine, "k0", None, at=1)
    for i in range(12):
        engine.apply(
            _cmd(
                RotateApiKey,
                2 + i,
                key_id=f"k{i}",
                new_key_id=f"k{i + 1}",
                prefix=f"tw_k{i + 1}",
                key_hash="0" * 64,
                old_key_expires_at=_at(2 + i),
            )
        )
    engine.tick(ClockTicked(partition=0, occurred_at=_at(20)), {"a"})  # 12 expired, 5 kept
    keys = engine.accounts["a"].keys
    assert [k for k, r in keys.items() if r.status == "active"] == ["k12"]
    assert sorted(k for k, r in keys.items() if r.status != "active") == [
        "k10",
        "k11",
        "k7",
        "k8",
        "k9",
    ]
    engine.tick(ClockTicked(partition=0, occurred_at=_at(20 + 86_400 + 60)), {"a"})
    assert list(engine.accounts["a"].keys) == ["k12"]  # a day on, only the live key
