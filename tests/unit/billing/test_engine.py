"""The billing engine as a pure function of its input log: properties that must always hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import (
    AccountStatusChanged,
    AddMember,
    AdjustBalance,
    ApiKeyRecorded,
    ApproveDeveloperAccess,
    ChangePlan,
    ClockTicked,
    CommandResult,
    CreateAccount,
    CreateApiKey,
    EndSessions,
    Event,
    KeyLimitReached,
    KeyPolicy,
    LedgerEntryRecorded,
    Plan,
    PriceVersion,
    QuotaUsed,
    RequestCompleted,
    RequestDeveloperAccess,
    RequestStarted,
    RevokeApiKey,
    RevokeDeveloperAccess,
    RotateApiKey,
    StartSession,
    SuspendAccount,
    TopUp,
    encode_event,
)
from schemas.limits import MAX_CHOICES, MAX_OUTPUT_TOKENS
from schemas.money import MAX_BALANCE_NANO, MAX_MOVEMENT_NANO, MAX_PRICE_NANO, NANO_PER_USD
from schemas.prices import PriceBook
from services.billing.domain.account import AccountState, Stream
from services.billing.domain.rules import Rules
from services.billing.service_layer.engine import Engine, Unroutable

T0 = datetime(2026, 11, 1, tzinfo=UTC)
PRICE = PriceVersion(
    version="catalog",
    effective_from=datetime(1970, 1, 1, tzinfo=UTC),
    input_per_mtok_nano=2_500_000_000,
    output_per_mtok_nano=10_000_000_000,
    cache_read_per_mtok_nano=1_250_000_000,
)


def _engine(**rules: object) -> Engine:
    return Engine(PriceBook([("m", PRICE)]), Rules(**rules))  # type: ignore[arg-type]


def _create(at: datetime = T0, **plan: object) -> CreateAccount:
    return CreateAccount(
        account_id="a",
        name="A",
        plan=Plan(**plan),
        idempotency_key="create",  # type: ignore[arg-type]
        occurred_at=at,
    )


def _new_key(key_id: str = "k1", policy: KeyPolicy | None = None) -> CreateApiKey:
    return CreateApiKey(
        account_id="a",
        key_id=key_id,
        prefix="tw_abc",
        key_hash="0" * 64,
        idempotency_key=f"key:{key_id}",
        occurred_at=T0,
        policy=policy,
    )


def _top_up(usd: int = 20, key: str = "t") -> TopUp:
    return TopUp(
        account_id="a", amount_nano=usd * NANO_PER_USD, idempotency_key=key, occurred_at=T0
    )


def _request(
    n: int,
    at: datetime,
    prompt: int = 1000,
    completion: int = 500,
    cached: int = 0,
    producer: str | None = None,
    seq: int = 0,
    key: str = "k",
) -> tuple[RequestStarted, RequestCompleted]:
    """A request's two events; with ``producer``, numbered ``seq + 1`` and ``seq + 2``."""
    stamp = lambda k: {"producer": producer, "producer_seq": seq + k} if producer else {}  # noqa: E731
    common = {
        "request_id": f"r{n}",
        "account_id": "a",
        "key_id": key,
        "model": "m",
        "deployment": "d",
        "surface": "openai.chat",
        "stream": False,
    }
    started = RequestStarted(
        **common, **stamp(1), max_tokens=500, prompt_tokens_estimate=prompt, occurred_at=at
    )
    done = RequestCompleted(
        **common,
        **stamp(2),
        started_at=at,
        status="succeeded",
        http_status=200,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cache_read_tokens=cached,
        cache_write_tokens=0,
        usage_source="upstream",
        latency_ms=5,
        occurred_at=at + timedelta(seconds=1),
    )
    return started, done


def _run(engine: Engine, events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for event in events:
        if isinstance(event, ClockTicked):  # every account here is on the tick's partition
            out.extend(e for _, _, e in engine.tick(event, list(engine.accounts)))
        else:
            out.extend(e for _, _, e in engine.apply(event))
        out.extend(e for _, _, e in engine.touched_records())
    return out


def _ledger(out: list[Event]) -> list[LedgerEntryRecorded]:
    return [e for e in out if isinstance(e, LedgerEntryRecorded)]


def test_top_up_with_fee_deducted_and_added() -> None:
    engine = _engine()
    out = _run(
        engine,
        [
            _create(),
            _top_up(10, key="t1"),
        ],
    )
    assert [(e.kind, e.amount_nano) for e in _ledger(out)] == [
        ("top_up", 10 * NANO_PER_USD),
        ("service_fee", -500_000_000),
    ]
    assert engine.accounts["a"].balance_nano == 9_500_000_000
    added = _engine(fee_mode="add")
    _run(
        added,
        [
            _create(),
            _top_up(10, key="t1"),
        ],
    )
    assert added.accounts["a"].balance_nano == 10 * NANO_PER_USD


def test_top_up_below_minimum_is_rejected_and_changes_nothing() -> None:
    engine = _engine()
    out = _run(
        engine,
        [
            _create(),
            TopUp(account_id="a", amount_nano=NANO_PER_USD, idempotency_key="t", occurred_at=T0),
        ],
    )
    assert out[-3].outcome == "rejected" and "at least" in out[-3].reason  # type: ignore[attr-defined]
    assert engine.accounts["a"].balance_nano == 0 and not _ledger(out)


def test_hold_then_charge_then_status_flips_at_zero() -> None:
    engine = _engine()
    started, done = _request(1, T0, prompt=1_000_000, completion=1_000_000)
    _run(
        engine,
        [
            _create(),
            _top_up(),
            started,
        ],
    )
    state = engine.accounts["a"]
    assert state.held_nano > 0 and state.available_nano < state.balance_nano
    out = _run(engine, [done])
    charge = _ledger(out)[0]
    assert charge.amount_nano == -12_500_000_000 and charge.price_version == "catalog"
    assert state.held_nano == 0 and state.balance_nano == 19 * NANO_PER_USD - 12_500_000_000
    _, again = _request(2, T0, prompt=1_000_000, completion=1_000_000)
    out = _run(engine, [again])
    assert state.balance_nano < 0 and state.status == "insufficient_balance"
    _run(
        engine,
        [_top_up(key="t2")],
    )
    assert state.status == "active"


def test_suspension_and_quota_and_keys() -> None:
    engine = _engine()
    _run(
        engine,
        [
            _create(monthly_token_quota=1000),
            _top_up(),
            _new_key(),
        ],
    )
    state = engine.accounts["a"]
    assert state.keys["k1"].status == "active"
    _run(engine, list(_request(1, T0, prompt=600, completion=600)))
    assert state.status == "quota_exceeded"
    # a new month clears the quota (this request's 20 tokens stay under it)
    _run(engine, list(_request(2, T0 + timedelta(days=31), prompt=10, completion=10)))
    assert state.month == "2026-12" and state.status == "active"
    _run(
        engine,
        [
            SuspendAccount(account_id="a", idempotency_key="s", occurred_at=T0),
            RevokeApiKey(account_id="a", key_id="k1", idempotency_key="r", occurred_at=T0),
        ],
    )
    assert state.status == "suspended" and state.keys["k1"].status == "revoked"


def test_a_plan_change_applies_at_once_and_is_recorded() -> None:
    engine = _engine()
    _run(
        engine,
        [
            _create(name="free", monthly_token_quota=1000),
            _top_up(),
            *_request(1, T0, prompt=600, completion=600),
        ],
    )
    assert engine.accounts["a"].status == "quota_exceeded"
    premium = ChangePlan(
        account_id="a",
        plan=Plan(name="premium"),
        reason="upgraded",
        idempotency_key="up",
        actor="ops",
        occurred_at=T0 + timedelta(hours=1),
    )
    out = _run(engine, [premium])
    (status,) = [e for e in out if isinstance(e, AccountStatusChanged)]
    assert (status.status, status.plan_name, status.monthly_token_quota) == (
        "active",
        "premium",
        None,
    )
    (result,) = [e for e in out if isinstance(e, CommandResult)]
    assert result.outcome == "applied" and result.command_id == premium.event_id
    # Back to a plan whose quota this month's 1,200 tokens already pass: refused at once.
    out = _run(
        engine,
        [
            premium.model_copy(
                update={
                    "plan": Plan(name="free", monthly_token_quota=1000),
                    "idempotency_key": "down",
                }
            )
        ],
    )
    assert [e.status for e in out if isinstance(e, AccountStatusChanged)] == ["quota_exceeded"]


def _key_states(out: list[Event]) -> list[tuple[str, bool]]:
    return [(e.key_id, e.limit_reached) for e in out if isinstance(e, ApiKeyRecorded)]


def test_a_key_over_its_daily_spend_limit_is_marked_until_the_day_turns() -> None:
    engine = _engine()
    # 0.01 USD a day; a request of 1000 + 500 tokens costs 0.0075 USD, its hold more.
    daily = KeyPolicy(spend_limit_nano=10_000_000, spend_period="day")
    _run(
        engine,
        [
            _create(),
            _top_up(),
            _new_key("capped", daily),
            _new_key("free"),
        ],
    )
    state = engine.accounts["a"]
    started, done = _request(1, T0 + timedelta(hours=1), key="capped")
    # In flight, the hold (1000 in + 500 out at most) already counts: 0.0075 < 0.01, so not yet.
    assert _key_states(_run(engine, [started])) == []
    assert _key_states(_run(engine, [done])) == []
    assert state.key_spent("capped", done.occurred_at) == 7_500_000
    second = _request(2, T0 + timedelta(hours=2), key="capped")
    out = _run(engine, list(second))
    assert _key_states(out) == [("capped", True)]
    alerts = [(a.key_id, a.spend_period) for a in out if isinstance(a, KeyLimitReached)]
    assert alerts == [("capped", "day")]  # once, for the dispatcher to deliver
    # The account's other key is not limited, and the account itself is fine.
    assert _key_states(_run(engine, list(_request(3, T0 + timedelta(hours=3), key="free")))) == []
    assert state.status == "active" and state.keys["free"].limit_reached is False
    # Rotating the capped key does not reset what it spent.
    rotate = RotateApiKey(
        account_id="a",
        key_id="capped",
        new_key_id="capped2",
        prefix="tw_def",
        key_hash="1" * 64,
        old_key_expires_at=T0 + timedelta(hours=5),
        idempotency_key="rot",
        occurred_at=T0 + timedelta(hours=4),
    )
    out = _run(engine, [rotate])
    assert ("capped2", True) in _key_states(out)
    # The next UTC day, a tick with no traffic lifts the mark.
    out = _run(engine, [ClockTicked(partition=0, occurred_at=T0 + timedelta(days=1, hours=1))])
    assert ("capped2", False) in _key_states(out)
    assert state.keys["capped2"].limit_reached is False


def test_quota_alerts_at_80_and_100_percent_once_a_month() -> None:
    engine = _engine()
    top_up = _top_up()
    _run(engine, [_create(name="free", monthly_token_quota=1000), top_up])

    def used(out: list[Event]) -> list[tuple[int, str]]:
        return [(a.percent, a.month) for a in out if isinstance(a, QuotaUsed)]

    assert used(_run(engine, list(_request(1, T0, prompt=500, completion=200)))) == []
    assert used(_run(engine, list(_request(2, T0, prompt=50, completion=50)))) == [(80, "2026-11")]
    assert used(_run(engine, list(_request(3, T0, prompt=150, completion=60)))) == [
        (100, "2026-11")
    ]
    assert used(_run(engine, list(_request(4, T0, prompt=1, completion=1)))) == []
    later = T0 + timedelta(days=31)
    assert used(_run(engine, list(_request(5, later, prompt=700, completion=150)))) == [
        (80, "2026-12")
    ]


def test_unknown_account_and_unknown_model_are_unroutable() -> None:
    engine = _engine()
    with pytest.raises(Unroutable):
        engine.apply(_request(1, T0)[0])
    _run(engine, [_create()])
    bad = _request(1, T0)[0].model_copy(update={"model": "nope"})
    with pytest.raises(Unroutable):
        engine.apply(bad)
    out = _run(
        engine,
        [
            TopUp(
                account_id="ghost",
                amount_nano=20 * NANO_PER_USD,
                idempotency_key="x",
                occurred_at=T0,
            )
        ],
    )
    assert out[0].outcome == "rejected"  # type: ignore[attr-defined]


def test_price_changes_never_reprice_requests_started_before() -> None:
    engine = _engine()
    engine.prices.add(
        "m",
        PRICE.model_copy(
            update={
                "version": "v2",
                "effective_from": T0 + timedelta(hours=1),
                "output_per_mtok_nano": 0,
            }
        ),
    )
    _run(
        engine,
        [
            _create(),
            _top_up(),
        ],
    )
    started, done = _request(1, T0 + timedelta(minutes=59))
    done = done.model_copy(update={"occurred_at": T0 + timedelta(hours=2)})
    entry = _ledger(_run(engine, [started, done]))[0]
    assert entry.price_version == "catalog" and entry.output_cost_nano > 0


# -- properties over random logs ---------------------------------------------------------------


def _member_command(draw: st.DrawFn, idem: str, at: datetime) -> Event:
    member = draw(st.sampled_from(["m1", "m2"]))
    common = {"account_id": "a", "member_id": member, "idempotency_key": idem, "occurred_at": at}
    which = draw(st.sampled_from(["add", "ask", "approve", "revoke", "key", "in", "out"]))
    if which == "add":
        return AddMember(email=f"{member}@x.io", password_hash="h", **common)
    if which == "ask":
        return RequestDeveloperAccess(**common)
    if which == "approve":
        return ApproveDeveloperAccess(**common)
    if which == "revoke":
        return RevokeDeveloperAccess(**common)
    if which == "key":
        key_id = f"k-{idem}"
        return CreateApiKey(
            account_id="a",
            key_id=key_id,
            prefix="tw_" + key_id,
            key_hash="0" * 64,
            member_id=member,
            idempotency_key=idem,
            occurred_at=at,
        )
    if which == "in":
        ttl = timedelta(minutes=draw(st.integers(1, 600)))
        token = f"{draw(st.integers(0, 3)):064x}"
        return StartSession(
            session_id=f"s{draw(st.integers(0, 3))}",
            token_hash=token,
            expires_at=at + ttl,
            **common,
        )
    return EndSessions(**common)


def _log(draw: st.DrawFn) -> list[Event]:
    """A random log of one account over a few days around a month's turn (inside the dedup
    window, so every duplicate in it is one billing must recognise)."""
    events: list[Event] = [_create()]
    seqs = {"gw1": 0, "gw2": 0}
    at = T0 + timedelta(days=28)
    for i in range(draw(st.integers(min_value=1, max_value=30))):
        at += timedelta(minutes=1)
        kinds = ["top_up", "adjust", "request", "dup", "tick", "plan", "member"]
        kind = draw(st.sampled_from(kinds))
        if kind == "top_up":
            events.append(
                TopUp(
                    account_id="a",
                    amount_nano=draw(
                        st.integers(min_value=10 * NANO_PER_USD, max_value=100 * NANO_PER_USD)
                    ),
                    idempotency_key=f"t{draw(st.integers(0, 5))}",
                    occurred_at=at,
                )
            )
        elif kind == "adjust":
            events.append(
                AdjustBalance(
                    account_id="a",
                    amount_nano=draw(st.integers(min_value=-(10**9), max_value=10**9).filter(bool)),
                    reason="x",
                    idempotency_key=f"adj{i}",
                    occurred_at=at,
                )
            )
        elif kind == "request":
            producer = draw(st.sampled_from([None, "gw1", "gw2"]))
            prompt, completion = draw(st.integers(0, 10**5)), draw(st.integers(0, 10**4))
            if producer is None:
                events.extend(_request(i, at, prompt, completion))
            else:
                events.extend(_request(i, at, prompt, completion, 0, producer, seqs[producer]))
                seqs[producer] += 2
        elif kind == "plan":
            quota = draw(st.sampled_from([None, 0, 10**4, 10**6]))
            events.append(
                ChangePlan(
                    account_id="a",
                    plan=Plan(name="p", monthly_token_quota=quota),
                    idempotency_key=f"plan{i}",
                    occurred_at=at,
                )
            )
        elif kind == "member":  # people come, ask, are approved or not, sign in and out
            events.append(_member_command(draw, f"mem{i}", at))
        elif kind == "tick":  # time passes (up to 6 hours) with no event from the account
            at += timedelta(minutes=draw(st.integers(0, 6 * 60)))
            events.append(ClockTicked(partition=0, occurred_at=at))
        elif len(events) > 1:
            events.append(events[draw(st.integers(1, len(events) - 1))])  # a duplicate
    return events


logs = st.composite(_log)()


@settings(max_examples=60, deadline=None)
@given(logs)
def test_balance_is_always_the_sum_of_its_ledger(events: list[Event]) -> None:
    engine = _engine()
    out = _run(engine, events)
    assert engine.accounts["a"].balance_nano == sum(e.amount_nano for e in _ledger(out))
    last = _ledger(out)[-1] if _ledger(out) else None
    assert last is None or last.balance_after_nano == engine.accounts["a"].balance_nano


@settings(max_examples=60, deadline=None)
@given(logs)
def test_replaying_the_log_rebuilds_byte_identical_state(events: list[Event]) -> None:
    first, second = _engine(), _engine()
    out_first, out_second = _run(first, events), _run(second, events)
    snap = lambda e: encode_event(e.accounts["a"].snapshot(T0))[0]  # noqa: E731
    assert snap(first) == snap(second)
    assert [encode_event(e)[0] for e in out_first] == [encode_event(e)[0] for e in out_second]


@settings(max_examples=60, deadline=None)
@given(logs, st.data())
def test_a_duplicate_event_never_changes_state(events: list[Event], data: st.DataObject) -> None:
    engine = _engine()
    out = _run(engine, events)
    before = orjson.dumps(engine.accounts["a"].snapshot(T0).model_dump(mode="json"))
    # A copy of what was applied. A command refused when it came was not applied, so it is
    # not remembered: sent again, it is decided again (an approval refused because the
    # member did not exist yet goes through once they do).
    refused = {
        e.command_id for e in out if isinstance(e, CommandResult) and e.outcome == "rejected"
    }
    applied = [e for e in events if e.event_id not in refused]
    duplicate = applied[data.draw(st.integers(0, len(applied) - 1))]
    out = _run(engine, [duplicate])
    after = orjson.dumps(engine.accounts["a"].snapshot(T0).model_dump(mode="json"))
    assert not _ledger(out)

    # Only the status sequence moves (a status record is re-sent); money and holds do not.
    def money(raw: bytes) -> dict[str, object]:
        return {k: v for k, v in orjson.loads(raw).items() if k not in ("sequence", "event_id")}

    assert money(before) == money(after)


def test_low_balance_alerts_fire_once_per_crossing_and_rearm_after_a_top_up() -> None:
    engine = _engine(alert_absolute_nano=NANO_PER_USD, alert_share_of_top_up_bps=2000)
    out = _run(
        engine,
        [
            _create(),
            _top_up(10),
        ],
    )
    alerts = lambda events: [e.threshold_kind for e in events if e.TYPE == "account.balance_low"]  # type: ignore[attr-defined]  # noqa: E731
    assert alerts(out) == []  # 9.50 available: above 2.00 (20% of 10) and 1.00
    spend = [e for n in range(3) for e in _request(n, T0, prompt=1_000_000, completion=250_000)]
    out = _run(engine, spend)  # 3 x 5.00 USD: 9.50 -> 4.50 -> -0.50 -> -5.50
    assert sorted(alerts(out)) == ["absolute", "share_of_last_top_up"]  # each once
    out = _run(
        engine,
        [_top_up(key="t2")],
    )
    assert alerts(out) == [] and engine.accounts["a"].alerted == set()  # re-armed
    out = _run(engine, list(_request(9, T0, prompt=4_000_000, completion=100_000)))
    assert alerts(out) == ["share_of_last_top_up"]  # 13.50 - 11.00 = 2.50 < 4.00 (20% of 20)


def test_a_hold_never_released_expires_after_its_ttl() -> None:
    engine = _engine(hold_ttl=timedelta(minutes=15))
    started, _ = _request(1, T0, prompt=1_000_000, completion=0)  # the gateway died after this
    _run(
        engine,
        [
            _create(),
            _top_up(),
            started,
        ],
    )
    state = engine.accounts["a"]
    assert state.held_nano > 0
    _run(engine, list(_request(2, T0 + timedelta(minutes=14), prompt=10, completion=10)))
    assert "r1" in state.holds  # still inside the TTL
    _run(engine, list(_request(3, T0 + timedelta(minutes=16), prompt=10, completion=10)))
    assert "r1" not in state.holds and state.held_nano == 0
    assert state.available_nano == state.balance_nano


def _tick(at: datetime) -> ClockTicked:
    return ClockTicked(partition=0, occurred_at=at)


def test_time_passes_on_clock_ticks_without_any_traffic() -> None:
    engine = _engine(hold_ttl=timedelta(minutes=15))
    rotated = T0 + timedelta(hours=1)
    _run(
        engine,
        [
            _create(monthly_token_quota=1000),
            _top_up(10),
            _new_key(),
            RotateApiKey(
                account_id="a",
                key_id="k1",
                new_key_id="k2",
                prefix="tw_def",
                key_hash="1" * 64,
                old_key_expires_at=rotated,
                idempotency_key="rot",
                occurred_at=T0,
            ),
        ],
    )
    state = engine.accounts["a"]
    _run(engine, list(_request(1, T0, prompt=600, completion=600)))
    assert state.status == "quota_exceeded"  # the gateway now sends nothing for this account
    # A tick with nothing due changes nothing and writes nothing.
    assert _run(engine, [_tick(T0 + timedelta(minutes=5))]) == []
    # The overlap of the rotated-out key ends: billing says so on the keys topic, and in a
    # new snapshot (a restore must not find the key active).
    out = _run(engine, [_tick(rotated)])
    keys = [e for e in out if isinstance(e, ApiKeyRecorded)]
    assert [(e.key_id, e.status) for e in keys] == [("k1", "expired")]
    (snap,) = [e for e in out if e.TYPE == "billing.account_snapshot"]
    assert snap.keys["k1"].status == "expired"  # type: ignore[attr-defined]
    assert state.keys["k2"].status == "active"
    # The month turns at midnight UTC, with no event from the account.
    out = _run(engine, [_tick(datetime(2026, 12, 1, tzinfo=UTC))])
    status = [e for e in out if e.TYPE == "account.status_changed"]
    assert [(e.status, e.month_tokens) for e in status] == [("active", 0)]  # type: ignore[attr-defined]
    # A hold a dead gateway left behind blocks the account, until its TTL passes.
    started, _ = _request(2, datetime(2026, 12, 1, 1, tzinfo=UTC), prompt=4_000_000)
    _run(engine, [started])
    assert state.status == "insufficient_balance" and state.held_nano > state.balance_nano
    _run(engine, [_tick(datetime(2026, 12, 1, 1, 14, tzinfo=UTC))])
    assert state.status == "insufficient_balance"  # still inside the TTL
    out = _run(engine, [_tick(datetime(2026, 12, 1, 1, 16, tzinfo=UTC))])
    assert state.held_nano == 0 and state.status == "active"
    assert [e.status for e in out if e.TYPE == "account.status_changed"] == ["active"]  # type: ignore[attr-defined]
    # A key expired a month ago is forgotten (the admin API answers from every key's record
    # that it expired; billing's state keeps live keys, and dead ones for a day).
    assert "k1" not in state.keys
    out = _run(
        engine, [RevokeApiKey(account_id="a", key_id="k1", idempotency_key="rv", occurred_at=T0)]
    )
    result = next(e for e in out if e.TYPE == "billing.command_result")
    assert result.code == "key_not_found"  # type: ignore[attr-defined]


def test_a_hold_covers_every_choice_a_request_asks_for() -> None:
    engine = _engine()
    _run(
        engine,
        [
            _create(),
            _top_up(),
        ],
    )
    state = engine.accounts["a"]
    one, _ = _request(1, T0, prompt=0)
    eight = _request(2, T0, prompt=0)[0].model_copy(update={"choices": 8})
    _run(engine, [one])
    single = state.held_nano
    _run(engine, [eight])
    assert single == 500 * 10_000 and state.held_nano == single * 9  # 500 tokens x 10 USD/M


def test_money_stays_within_its_stated_bounds() -> None:
    engine = _engine()
    _run(engine, [_create()])
    state = engine.accounts["a"]
    big = MAX_MOVEMENT_NANO
    steps = MAX_BALANCE_NANO // big
    out = _run(
        engine,
        [
            AdjustBalance(
                account_id="a", amount_nano=big, reason="x", idempotency_key=f"a{i}", occurred_at=T0
            )
            for i in range(steps + 1)
        ],
    )
    refused = [e for e in out if getattr(e, "outcome", "") == "rejected"]
    assert [e.code for e in refused] == ["balance_limit"]  # type: ignore[attr-defined]
    assert state.balance_nano == MAX_BALANCE_NANO
    # The largest request at the largest price would hold more than any balance: the hold
    # is clamped (and stays a 64-bit number), and blocks the account as surely.
    dear = PRICE.model_copy(update={"output_per_mtok_nano": MAX_PRICE_NANO})
    engine.prices = PriceBook([("m", dear)])
    started = _request(1, T0)[0].model_copy(
        update={"max_tokens": MAX_OUTPUT_TOKENS, "choices": MAX_CHOICES}
    )
    _run(engine, [started])
    assert state.held_nano == MAX_BALANCE_NANO and state.status == "insufficient_balance"


def test_an_idempotency_key_reused_for_another_command_is_refused() -> None:
    engine = _engine()
    top_up = lambda amount: TopUp(  # noqa: E731
        account_id="a", amount_nano=amount, idempotency_key="same", occurred_at=T0
    )
    out = _run(engine, [_create(), top_up(20 * NANO_PER_USD), top_up(20 * NANO_PER_USD)])
    assert [e.outcome for e in out if e.TYPE == "billing.command_result"][-1] == "duplicate"  # type: ignore[attr-defined]
    out = _run(engine, [top_up(30 * NANO_PER_USD)])
    result = next(e for e in out if e.TYPE == "billing.command_result")
    assert (result.outcome, result.code) == ("rejected", "idempotency_conflict")  # type: ignore[attr-defined]
    assert engine.accounts["a"].balance_nano == 19 * NANO_PER_USD


def test_ids_older_than_the_dedup_window_are_forgotten_and_recent_ones_kept() -> None:
    engine = _engine(dedup_window=timedelta(days=8))
    _run(
        engine,
        [
            _create(),
            _top_up(),
        ],
    )
    _run(engine, list(_request(1, T0, prompt=10, completion=10)))
    _run(engine, list(_request(2, T0 + timedelta(days=5), prompt=10, completion=10)))
    state = engine.accounts["a"]
    assert {"r1", "r2", "t"} <= set(state.applied)
    _run(engine, list(_request(3, T0 + timedelta(days=9), prompt=10, completion=10)))
    assert "r1" not in state.applied and "t" not in state.applied
    assert {"r2", "r3"} <= set(state.applied)


# -- request events numbered per gateway process -----------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.permutations(range(1, 41)), st.lists(st.integers(1, 40), max_size=40), st.randoms())
def test_a_stream_accepts_each_number_once_in_any_order(
    order: list[int], copies: list[int], rnd: Random
) -> None:
    deliveries = order + copies
    rnd.shuffle(deliveries)
    stream = Stream(next_seq=1, last_seen=T0)
    accepted = [seq for seq in deliveries if stream.accept(seq, T0)]
    assert sorted(accepted) == list(range(1, 41))
    assert not stream.missing and stream.next_seq == 41


def test_snapshots_stay_small_however_many_sequenced_requests_an_account_makes() -> None:
    engine = _engine()
    _run(
        engine,
        [
            _create(),
            _top_up(100),
        ],
    )
    sizes = []
    for batch in range(3):
        events: list[Event] = []
        for n in range(batch * 2000, (batch + 1) * 2000):
            events.extend(_request(n, T0, 10, 10, 0, "gw1", 2 * n))
        _run(engine, events)
        sizes.append(len(encode_event(engine.accounts["a"].snapshot(T0))[0]))
    # O(gateway processes), not O(requests): only a few more digits after 4,000 more requests.
    assert sizes[-1] - sizes[0] < 20 and sizes[-1] < 2_000
    charges = [
        e
        for e in _run(engine, list(_request(5, T0, 10, 10, 0, "gw1", 10)))
        if isinstance(e, LedgerEntryRecorded)
    ]
    assert charges == []  # an old copy, long after: still charged once


def test_sequenced_copies_are_dropped_after_a_restore_and_other_processes_still_count() -> None:
    engine = _engine()
    first = _request(1, T0, 10, 10, 0, "gw1", 0)
    _run(
        engine,
        [
            _create(),
            _top_up(),
            *first,
        ],
    )
    restored = _engine()
    restored.accounts["a"] = AccountState.restore(engine.accounts["a"].snapshot(T0))
    assert _ledger(_run(restored, list(first))) == []  # the copy, after a restart
    # Another gateway process numbers from 1 too: its events are not copies.
    assert len(_ledger(_run(restored, list(_request(2, T0, 10, 10, 0, "gw2", 0))))) == 1
    old = T0 + timedelta(days=9)  # gw1 unseen for the window: forgotten when a new one comes
    _run(restored, list(_request(3, old, 10, 10, 0, "gw3", 0)))
    assert set(restored.accounts["a"].streams) == {"gw3"}
