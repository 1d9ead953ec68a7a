from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import AccountStatusChanged, ApiKeyRecorded
from services.gateway.domain.standing import AccountStore, KeyStore, check_account, hash_secret
from services.gateway.errors import (
    AccountDisabled,
    InsufficientBalance,
    InvalidApiKey,
    QuotaExceeded,
)

SECRET = "tw_" + "k" * 40
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _key(status: str = "active", secret: str = SECRET, **extra: object) -> ApiKeyRecorded:
    return ApiKeyRecorded(
        key_id="key1",
        account_id="acc1",
        prefix=secret[:12],
        key_hash=hash_secret(secret),
        status=status,  # type: ignore[arg-type]
        created_at=NOW,
        **extra,
    )  # type: ignore[arg-type]


def _status(status: str, sequence: int = 1) -> AccountStatusChanged:
    return AccountStatusChanged(
        account_id="acc1",
        name="a",
        status=status,  # type: ignore[arg-type]
        sequence=sequence,
        balance_nano=1,
        held_nano=0,
        available_nano=1,
        month_tokens=0,
    )


def test_a_known_key_authenticates_to_its_account() -> None:
    store = KeyStore()
    store.apply(_key())
    assert store.authenticate(SECRET, NOW).account_id == "acc1"


@pytest.mark.parametrize("secret", [None, "", "tw_" + "x" * 40, SECRET[:-1] + "j", SECRET + "x"])
def test_wrong_or_missing_secrets_are_refused(secret: str | None) -> None:
    store = KeyStore()
    store.apply(_key())
    with pytest.raises(InvalidApiKey):
        store.authenticate(secret, NOW)


def test_revocation_and_expiry_apply_as_records_arrive() -> None:
    store = KeyStore()
    store.apply(_key(expires_at=NOW + timedelta(hours=1)))
    assert store.authenticate(SECRET, NOW)
    with pytest.raises(InvalidApiKey, match="expired"):
        store.authenticate(SECRET, NOW + timedelta(hours=2))
    store.apply(_key("revoked"))
    with pytest.raises(InvalidApiKey, match="revoked"):
        store.authenticate(SECRET, NOW)
    assert len(store) == 1


def test_account_store_ignores_stale_records() -> None:
    store = AccountStore()
    store.apply(_status("suspended", sequence=5))
    store.apply(_status("active", sequence=4))
    assert store.get("acc1").status == "suspended"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ("insufficient_balance", InsufficientBalance),
        ("suspended", AccountDisabled),
        ("quota_exceeded", QuotaExceeded),
    ],
)
def test_statuses_map_to_their_errors(status: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_account(_status(status))


def test_an_account_with_no_status_yet_cannot_spend() -> None:
    with pytest.raises(InsufficientBalance):
        check_account(None)
    assert check_account(_status("active")).status == "active"


def _funded(available: int, sequence: int, applied: dict[str, int]) -> AccountStatusChanged:
    return _status("active", sequence).model_copy(
        update={"available_nano": available, "balance_nano": available, "applied_through": applied}
    )


def test_reservations_count_until_billing_has_applied_the_request() -> None:
    store = AccountStore(producer="gw_me")
    store.apply(_funded(1000, 1, {}))
    assert check_account(store.get("acc1"), store.reserved("acc1", 0.0))
    # Three requests admitted, 400 each: billing has seen none of them yet.
    for seq in (1, 3, 5):  # each request's started event (its completed one takes seq + 1)
        store.reserve("acc1", seq, 400, now=0.0)
    assert store.reserved("acc1", 1.0) == 1200
    with pytest.raises(InsufficientBalance):  # 1000 - 1200 <= 0, whatever the status says
        check_account(store.get("acc1"), store.reserved("acc1", 1.0))
    # Billing applied the first two requests' events (through seq 3 of this gateway; another
    # gateway's numbers say nothing about ours): their holds or charges are in its figure.
    store.apply(_funded(300, 2, {"gw_other": 99, "gw_me": 4}))
    assert store.reserved("acc1", 1.0) == 400
    with pytest.raises(InsufficientBalance):
        check_account(store.get("acc1"), store.reserved("acc1", 1.0))
    store.apply(_funded(700, 3, {"gw_me": 7}))  # all applied, and a top-up came in
    assert store.reserved("acc1", 1.0) == 0
    assert check_account(store.get("acc1"), store.reserved("acc1", 1.0)).available_nano == 700


def test_a_reservation_billing_never_confirms_stops_counting_after_its_ttl() -> None:
    store = AccountStore(producer="gw_me")
    store.apply(_funded(1000, 1, {}))
    store.reserve("acc1", 1, 5000, now=0.0)
    assert store.reserved("acc1", AccountStore.RESERVATION_TTL_S - 1) == 5000
    assert store.reserved("acc1", AccountStore.RESERVATION_TTL_S + 1) == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("reserve"), st.integers(1, 3), st.integers(0, 10**6)),
            st.tuples(st.just("confirm"), st.integers(0, 6), st.just(0)),
            st.tuples(st.just("wait"), st.integers(0, 600), st.just(0)),
        ),
        max_size=60,
    )
)
def test_reservations_equal_a_scan_of_every_one_not_yet_confirmed_or_expired(
    steps: list[tuple[str, int, int]],
) -> None:
    """The store keeps a running total; it must always equal the plain definition: the sum
    of the reservations billing has not applied (seq < applied_through) that are younger
    than the TTL."""
    store = AccountStore(producer="gw_me")
    kept: list[tuple[int, int, float]] = []  # (seq, amount, at): every reservation made
    seq, now, through, sequence = 0, 0.0, 1, 0
    for action, n, amount in steps:
        if action == "reserve":
            seq += n  # the account's started events, each after its predecessor
            store.reserve("acc1", seq, amount, now)
            kept.append((seq, amount, now))
        elif action == "confirm":
            through = min(seq + 1, through + n)  # billing applies a prefix of them
            sequence += 1
            store.apply(_funded(10**12, sequence, {"gw_me": through}))
        else:
            now += n
        expected = sum(
            a for s, a, at in kept if s >= through and at >= now - AccountStore.RESERVATION_TTL_S
        )
        assert store.reserved("acc1", now) == expected


@pytest.mark.parametrize(
    ("at", "resets"),
    [
        (datetime(2026, 11, 22, 13, tzinfo=UTC), "2026-12-01T00:00:00Z"),
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), "2027-01-01T00:00:00Z"),
    ],
)
def test_a_spent_quota_says_which_and_when_usage_resets(at: datetime, resets: str) -> None:
    status = _status("quota_exceeded").model_copy(
        update={"occurred_at": at, "monthly_token_quota": 1_000_000, "plan_name": "free"}
    )
    with pytest.raises(QuotaExceeded) as refused:
        check_account(status)
    assert refused.value.status == 429
    assert "1,000,000 tokens (free plan)" in refused.value.message
    assert f"Usage resets at {resets}." in refused.value.message
