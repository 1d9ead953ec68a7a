from datetime import UTC, datetime, timedelta

import pytest

from schemas.events import AccountStatusChanged, ApiKeyRecorded
from services.gateway.domain.admission import AccountStore, KeyStore, check_account, hash_secret
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
