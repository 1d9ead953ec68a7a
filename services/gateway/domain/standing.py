"""Who may spend: API keys and account status held in memory, and the admission decision.

Both stores are fed from compacted topics (see ``entrypoints/state_feed.py``) and
read on every request, so they are plain dicts: no I/O on the hot path.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas.events import KEY_PREFIX_LENGTH, AccountStatusChanged, ApiKeyRecorded, KeyPolicy
from schemas.money import format_usd

from ..errors import (
    AccountDisabled,
    DeveloperAccessRevoked,
    InsufficientBalance,
    InvalidApiKey,
    KeyLimitReached,
    ModelNotAllowed,
    QuotaExceeded,
)

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
    """The caller, once authenticated, and what its key may do."""

    key_id: str
    account_id: str
    policy: KeyPolicy | None = None
    #: Billing says the key's spend in its period has reached its limit.
    limit_reached: bool = False

    def check_model(self, asked: str, model_id: str) -> None:
        """Refuse a model the key's allow-list does not name (by the name asked or its id)."""
        allowed = self.policy.allowed_models if self.policy is not None else None
        if allowed is not None and asked not in allowed and model_id not in allowed:
            raise ModelNotAllowed(
                f"This API key may not use `{asked}`; it may use: {', '.join(allowed)}.",
                param="model",
            )

    def check_spend(self, now: datetime) -> None:
        if not self.limit_reached or self.policy is None:
            return
        limit = format_usd(self.policy.spend_limit_nano or 0)
        period = self.policy.spend_period
        resets = _next_period(period, now)
        when = f" It resets at {resets}." if resets else " Raise it, or use another key."
        per = "in total" if period == "total" else f"per {period}"
        raise KeyLimitReached(
            f"This API key has reached its spend limit of {limit} USD {per}.{when}"
        )


def _next_period(period: str, now: datetime) -> str | None:
    at = now.astimezone(UTC)
    if period == "day":
        start = datetime(at.year, at.month, at.day, tzinfo=UTC) + timedelta(days=1)
    elif period == "month":
        start = datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)
    else:
        return None
    return start.isoformat().replace("+00:00", "Z")


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
        if match.status == "expired":
            raise InvalidApiKey("This API key has expired.")
        if match.status != "active":
            raise InvalidApiKey("This API key has been revoked.")
        if match.expires_at is not None and match.expires_at <= now:
            raise InvalidApiKey("This API key has expired.")
        if match.access_revoked:
            raise DeveloperAccessRevoked(
                "The developer access of this API key's member has been revoked, so the key "
                "is disabled; an operator can approve the access again."
            )
        return Principal(match.key_id, match.account_id, match.policy, match.limit_reached)


class AccountStore:
    """Each account's latest status, and what this gateway has let it spend since.

    Billing's status lags the gateway by the time its events take to be applied; a
    client sending requests faster than that could otherwise be admitted again and again
    on a balance already spent. So each admitted request reserves its hold here (the same
    amount billing will hold), and the reservation lasts until a status shows billing has
    applied the request's ``request.started`` (``applied_through`` this gateway's
    producer): from then on billing's ``available_nano`` includes its hold or its charge.
    """

    #: A reservation billing never confirms (it is down) stops counting after this.
    RESERVATION_TTL_S = 900.0

    def __init__(self, producer: str = "") -> None:
        self._by_id: dict[str, AccountStatusChanged] = {}
        #: This process's producer id on its request events (set once the sink exists).
        self.producer = producer
        self._reserved: dict[str, _Reservations] = {}

    def apply(self, record: AccountStatusChanged) -> None:
        old = self._by_id.get(record.account_id)
        if old is None or record.sequence >= old.sequence:
            self._by_id[record.account_id] = record
            if record.account_id in self._reserved:
                self._settle(record.account_id, record, None)

    def get(self, account_id: str) -> AccountStatusChanged | None:
        return self._by_id.get(account_id)

    def reserve(self, account_id: str, seq: int, amount_nano: int, now: float) -> None:
        """``seq`` is the producer_seq of the request's ``request.started``: an account's
        numbers only grow, so its reservations are kept in that order."""
        book = self._reserved.get(account_id)
        if book is None:
            book = self._reserved[account_id] = _Reservations()
        book.add(seq, amount_nano, now)

    def reserved(self, account_id: str, now: float) -> int:
        """What requests this gateway admitted for the account may still spend beyond what
        its latest status counts."""
        if account_id not in self._reserved:
            return 0
        return self._settle(account_id, self._by_id.get(account_id), now)

    def _settle(
        self, account_id: str, status: AccountStatusChanged | None, now: float | None
    ) -> int:
        book = self._reserved[account_id]
        through = status.applied_through.get(self.producer, 1) if status is not None else 1
        expired = now - self.RESERVATION_TTL_S if now is not None else float("-inf")
        book.settle(through, expired)
        if not book:
            del self._reserved[account_id]
            return 0
        return book.total

    def __len__(self) -> int:
        return len(self._by_id)


def check_not_suspended(status: AccountStatusChanged | None) -> None:
    """Refuse a suspended account, whatever it would do (spending or not)."""
    if status is not None and status.status == "suspended":
        raise AccountDisabled("This account is suspended. Contact your administrator.")


def check_account(
    status: AccountStatusChanged | None, reserved_nano: int = 0
) -> AccountStatusChanged:
    """The account's record if it may spend now (with ``reserved_nano`` more already let
    through by this gateway); else the error its status calls for."""
    if status is None:
        raise InsufficientBalance("This account has no balance yet: top it up to start.")
    check_not_suspended(status)
    if status.status == "insufficient_balance" or (
        reserved_nano and status.available_nano - reserved_nano <= 0
    ):
        raise InsufficientBalance("Your prepaid balance is exhausted: top up to continue.")
    if status.status == "quota_exceeded":
        raise QuotaExceeded(_quota_message(status))
    return status


def _quota_message(status: AccountStatusChanged) -> str:
    """Which quota, and when usage resets: the first instant of the next month (UTC), as
    billing counts months."""
    quota = status.monthly_token_quota
    used = f" of {quota:,} tokens" if quota is not None else ""
    return (
        f"This account has used its monthly token quota{used} ({status.plan_name} plan). "
        f"Usage resets at {_next_period('month', status.occurred_at)}."
    )


class _Reservations:
    """One account's reservations in ``producer_seq`` order, and their sum.

    Billing confirms a prefix (every seq below ``applied_through``) and the oldest expire
    first, so settling drops from the front: an admission costs what it settles, not the
    length of the book. (A scan of the whole book made a busy account's admissions slower
    with every request billing had not confirmed yet: quadratic while billing lags.)"""

    __slots__ = ("_book", "total")

    def __init__(self) -> None:
        self._book: deque[tuple[int, int, float]] = deque()  # (seq, amount_nano, reserved at)
        self.total = 0

    def __bool__(self) -> bool:
        return bool(self._book)

    def add(self, seq: int, amount_nano: int, at: float) -> None:
        self._book.append((seq, amount_nano, at))
        self.total += amount_nano

    def settle(self, through: int, expired: float) -> None:
        """Drop what billing has applied (seq < ``through``) and what was reserved before
        ``expired``. Reservation times follow the seqs give or take a request's admission
        (each is its request's start), so one a little younger than its successor waits
        for it."""
        book = self._book
        while book and (book[0][0] < through or book[0][2] < expired):
            self.total -= book.popleft()[1]
