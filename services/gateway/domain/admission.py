"""Who may spend: API keys and account status held in memory, and the admission decision.

Both stores are fed from compacted topics (see ``adapters/state_feed.py``) and
read on every request, so they are plain dicts: no I/O on the hot path.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from schemas.events import KEY_PREFIX_LENGTH, AccountStatusChanged, ApiKeyRecorded

from ..errors import AccountDisabled, InsufficientBalance, InvalidApiKey, QuotaExceeded

__all__ = [
    "AccountStore",
    "KeyStore",
    "Principal",
    "check_account",
    "check_not_suspended",
    "hash_secret",
]


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The caller, once authenticated."""

    key_id: str
    account_id: str


class KeyStore:
    def __init__(self) -> None:
        self._by_id: dict[str, ApiKeyRecorded] = {}
        self._by_prefix: dict[str, set[str]] = {}

    def apply(self, record: ApiKeyRecorded) -> None:
        old = self._by_id.get(record.key_id)
        if old is not None:
            self._by_prefix.get(old.prefix[:KEY_PREFIX_LENGTH], set()).discard(record.key_id)
        self._by_id[record.key_id] = record
        self._by_prefix.setdefault(record.prefix[:KEY_PREFIX_LENGTH], set()).add(record.key_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def authenticate(self, secret: str | None, now: datetime) -> Principal:
        if not secret:
            raise InvalidApiKey(
                "You didn't provide an API key. Send it as 'Authorization: "
                "Bearer <key>' (or 'x-api-key' on /v1/messages)."
            )
        digest = hash_secret(secret)
        match = None
        for key_id in self._by_prefix.get(secret[:KEY_PREFIX_LENGTH], ()):
            record = self._by_id[key_id]
            if hmac.compare_digest(record.key_hash, digest):
                match = record
        if match is None:
            raise InvalidApiKey("Incorrect API key provided.")
        if match.status != "active":
            raise InvalidApiKey("This API key has been revoked.")
        if match.expires_at is not None and match.expires_at <= now:
            raise InvalidApiKey("This API key has expired (it was rotated).")
        return Principal(match.key_id, match.account_id)


class AccountStore:
    def __init__(self) -> None:
        self._by_id: dict[str, AccountStatusChanged] = {}

    def apply(self, record: AccountStatusChanged) -> None:
        old = self._by_id.get(record.account_id)
        if old is None or record.sequence >= old.sequence:
            self._by_id[record.account_id] = record

    def get(self, account_id: str) -> AccountStatusChanged | None:
        return self._by_id.get(account_id)

    def __len__(self) -> int:
        return len(self._by_id)


def check_not_suspended(status: AccountStatusChanged | None) -> None:
    """Refuse a suspended account, whatever it would do (spending or not)."""
    if status is not None and status.status == "suspended":
        raise AccountDisabled("This account is suspended. Contact your administrator.")


def check_account(status: AccountStatusChanged | None) -> AccountStatusChanged:
    """The account's record if it may spend now; else the error its status calls for."""
    if status is None:
        raise InsufficientBalance("This account has no balance yet: top it up to start.")
    check_not_suspended(status)
    if status.status == "insufficient_balance":
        raise InsufficientBalance("Your prepaid balance is exhausted: top up to continue.")
    if status.status == "quota_exceeded":
        raise QuotaExceeded("This account has used its monthly token quota.")
    return status
