"""The billing engine as a pure function of its input log: properties that must always hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import (
    AdjustBalance,
    CreateAccount,
    CreateApiKey,
    Event,
    LedgerEntryRecorded,
    Plan,
    PriceVersion,
    RequestCompleted,
    RequestStarted,
    RevokeApiKey,
    SuspendAccount,
    TopUp,
    encode_event,
)
from schemas.money import NANO_PER_USD
from services.billing.domain.account import AccountState, Stream
from services.billing.domain.pricing import PriceBook
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


def _request(
    n: int,
    at: datetime,
    prompt: int = 1000,
    completion: int = 500,
    cached: int = 0,
    producer: str | None = None,
    seq: int = 0,
) -> tuple[RequestStarted, RequestCompleted]:
    """A request's two events; with ``producer``, numbered ``seq + 1`` and ``seq + 2``."""
    stamp = lambda k: {"producer": producer, "producer_seq": seq + k} if producer else {}  # noqa: E731
    common = {
        "request_id": f"r{n}",
        "account_id": "a",
        "key_id": "k",
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
            TopUp(
                account_id="a", amount_nano=10 * NANO_PER_USD, idempotency_key="t1", occurred_at=T0
            ),
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
            TopUp(
                account_id="a", amount_nano=10 * NANO_PER_USD, idempotency_key="t1", occurred_at=T0
            ),
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
            TopUp(
                account_id="a", amount_nano=20 * NANO_PER_USD, idempotency_key="t", occurred_at=T0
            ),
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
        [
            TopUp(
                account_id="a", amount_nano=20 * NANO_PER_USD, idempotency_key="t2", occurred_at=T0
            )
        ],
    )
    assert state.status == "active"


def test_suspension_and_quota_and_keys() -> None:
    engine = _engine()
    _run(
        engine,
        [
            _create(monthly_token_quota=1000),
            TopUp(
                account_id="a", amount_nano=20 * NANO_PER_USD, idempotency_key="t", occurred_at=T0
            ),
            CreateApiKey(
                account_id="a",
                key_id="k1",
                prefix="tw_abc",
                key_hash="0" * 64,
                idempotency_key="k",
                occurred_at=T0,
            ),
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
            TopUp(
                account_id="a", amount_nano=20 * NANO_PER_USD, idempotency_key="t", occurred_at=T0
            ),
        ],
    )
    started, done = _request(1, T0 + timedelta(minutes=59))
    done = done.model_copy(update={"occurred_at": T0 + timedelta(hours=2)})
    entry = _ledger(_run(engine, [started, done]))[0]
    assert entry.price_version == "catalog" and entry.output_cost_nano > 0


# -- properties over random logs ---------------------------------------------------------------


def _log(draw: st.DrawFn) -> list[Event]:
    events: list[Event] = [_create()]
    seqs = {"gw1": 0, "gw2": 0}
    for i in range(draw(st.integers(min_value=1, max_value=30))):
        at = T0 + timedelta(minutes=i)
        kind = draw(st.sampled_from(["top_up", "adjust", "request", "dup"]))
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
    _run(engine, events)
    before = orjson.dumps(engine.accounts["a"].snapshot(T0).model_dump(mode="json"))
    duplicate = events[data.draw(st.integers(0, len(events) - 1))]
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
            TopUp(
                account_id="a", amount_nano=10 * NANO_PER_USD, idempotency_key="t", occurred_at=T0
            ),
        ],
    )
    alerts = lambda events: [e.threshold_kind for e in events if e.TYPE == "account.balance_low"]  # type: ignore[attr-defined]  # noqa: E731
    assert alerts(out) == []  # 9.50 available: above 2.00 (20% of 10) and 1.00
    spend = [e for n in range(3) for e in _request(n, T0, prompt=1_000_000, completion=250_000)]
    out = _run(engine, spend)  # 3 x 5.00 USD: 9.50 -> 4.50 -> -0.50 -> -5.50
    assert sorted(alerts(out)) == ["absolute", "share_of_last_top_up"]  # each once
    out = _run(
        engine,
        [
            TopUp(
                account_id="a", amount_nano=20 * NANO_PER_USD, idempotency_key="t2", occurred_at=T0
            )
        ],
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
            TopUp(
                account_id="a", amount_nano=20 * NANO_PER_USD, idempotency_key="t", occurred_at=T0
            ),
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


def test_ids_older_than_the_dedup_window_are_forgotten_and_recent_ones_kept() -> None:
    engine = _engine(dedup_window=timedelta(days=8))
    _run(
        engine,
        [
            _create(),
            TopUp(
                account_id="a", amount_nano=20 * NANO_PER_USD, idempotency_key="t", occurred_at=T0
            ),
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
            TopUp(
                account_id="a", amount_nano=100 * NANO_PER_USD, idempotency_key="t", occurred_at=T0
            ),
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
            TopUp(
                account_id="a", amount_nano=20 * NANO_PER_USD, idempotency_key="t", occurred_at=T0
            ),
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
