"""An account's money and status, and how each command or request event changes them.

Pure: no I/O and no clock. Time comes from the events themselves, so replaying
the same log rebuilds the same state, byte for byte. Every method returns the
records to write (ledger entries, API key records, the command's result); the
caller adds the status and snapshot records for the accounts it touched.

Invariants (property-tested): the balance equals the sum of the account's
ledger entries; a duplicate event (same idempotency key or request id) changes
nothing; available = balance - holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import (
    AccountSnapshot,
    AccountStatus,
    AccountStatusChanged,
    ApiKeyRecorded,
    BalanceRanLow,
    CommandResult,
    Event,
    Hold,
    KeySpend,
    LedgerEntryKind,
    LedgerEntryRecorded,
    MemberRecorded,
    Plan,
    ProducerStream,
    QuotaUsed,
    SessionRecorded,
    SpendPeriod,
)
from schemas.money import MAX_BALANCE_NANO, format_usd
from schemas.prices import Charge, div_half_even

from .rules import Rules

__all__ = ["AccountState", "Rejected", "Unappliable"]


class Rejected(ValueError):
    """A command that cannot apply: ``code`` says which rule (the admin API answers with the
    status that code calls for), the message is the reason an operator reads."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Unappliable(ValueError):
    """An event no state can take (a charge past the balance's lowest bound): parked on the
    dead-letter topic by the consumer, never applied, never blocking the events after it."""


#: Overtaken events remembered per gateway process; beyond this the oldest gaps are
#: given up on (an event that far behind would be dropped as a copy).
MAX_MISSING = 1000
_HOUR = timedelta(hours=1)


@dataclass
class Stream:
    """One gateway process's request events for this account, by producer_seq."""

    next_seq: int
    last_seen: datetime
    missing: set[int] = field(default_factory=set)

    def accept(self, seq: int, now: datetime) -> bool:
        """True the first time ``seq`` comes, False for a copy."""
        self.last_seen = max(self.last_seen, now)
        if seq >= self.next_seq:
            self.missing.update(range(max(self.next_seq, seq - MAX_MISSING), seq))
            self.next_seq = seq + 1
            if len(self.missing) > MAX_MISSING:
                self.missing = set(sorted(self.missing)[-MAX_MISSING:])
            return True
        if seq in self.missing:
            self.missing.discard(seq)
            return True
        return False

    @property
    def watermark(self) -> int:
        """Every number below this has been applied."""
        return min(self.missing) if self.missing else self.next_seq

    def record(self) -> ProducerStream:
        return ProducerStream(
            next_seq=self.next_seq, missing=tuple(sorted(self.missing)), last_seen=self.last_seen
        )


#: The fields a snapshot keeps as they are, and those it keeps as a copy of a dict (the
#: rest, ``streams`` and ``alerted``, change form).
_KEPT_AS_IS = (
    "account_id",
    "name",
    "plan",
    "suspended",
    "balance_nano",
    "month",
    "month_tokens",
    "last_top_up_nano",
    "status",
    "sequence",
    "entries",
)
_KEPT_COPIED = ("holds", "keys", "applied", "fingerprints", "key_spend", "members", "sessions")


#: Revoked and expired keys stay in the state only to answer "already revoked": a day, and
#: the newest ``KEPT_INACTIVE_KEYS`` at most (every gateway has them from the compacted
#: topic). Rotating a key in a loop must not grow the state, and every snapshot, without end.
INACTIVE_KEY_TTL = timedelta(days=1)
KEPT_INACTIVE_KEYS = 1000

#: The shares of a monthly token quota that raise an alert.
QUOTA_ALERT_PERCENTS = (80, 100)


def spend_period(period: SpendPeriod, now: datetime) -> str:
    """The label of the period ``now`` falls in: a UTC day, a UTC month, or all time."""
    if period == "day":
        return now.astimezone(UTC).strftime("%Y-%m-%d")
    if period == "month":
        return now.astimezone(UTC).strftime("%Y-%m")
    return "total"


def _kept(source: object) -> dict[str, Any]:
    """The fields kept between a state and its snapshot, read from either."""
    kept: dict[str, Any] = {name: getattr(source, name) for name in _KEPT_AS_IS}
    return kept | {name: dict(getattr(source, name)) for name in _KEPT_COPIED}


@dataclass
class AccountState:
    account_id: str
    name: str
    plan: Plan
    suspended: bool = False
    balance_nano: int = 0
    holds: dict[str, Hold] = field(default_factory=dict)
    month: str = "1970-01"
    month_tokens: int = 0
    last_top_up_nano: int = 0
    status: AccountStatus = "insufficient_balance"
    sequence: int = 0
    keys: dict[str, ApiKeyRecorded] = field(default_factory=dict)
    applied: dict[str, datetime] = field(default_factory=dict)
    streams: dict[str, Stream] = field(default_factory=dict)
    entries: int = 0
    alerted: set[str] = field(default_factory=set)
    #: What each remembered idempotency key was used for (a short digest of the command), so
    #: the same key sent with other values is refused rather than taken for a retry.
    fingerprints: dict[str, str] = field(default_factory=dict)
    #: Per key with a spend limit: its charges in the current period.
    key_spend: dict[str, KeySpend] = field(default_factory=dict)
    #: The account's people and their active sign-in sessions (``members.py``).
    members: dict[str, MemberRecorded] = field(default_factory=dict)
    sessions: dict[str, SessionRecorded] = field(default_factory=dict)

    # -- derived ------------------------------------------------------------------------

    @property
    def held_nano(self) -> int:
        """At most the largest balance: more blocks the account as surely, and stays in range."""
        return min(sum(h.amount_nano for h in self.holds.values()), MAX_BALANCE_NANO)

    @property
    def available_nano(self) -> int:
        return max(self.balance_nano - self.held_nano, -MAX_BALANCE_NANO)

    def derive_status(self) -> AccountStatus:
        if self.suspended:
            return "suspended"
        if self.available_nano <= 0:
            return "insufficient_balance"
        quota = self.plan.monthly_token_quota
        if quota is not None and self.month_tokens >= quota:
            return "quota_exceeded"
        return "active"

    # -- housekeeping on every event ----------------------------------------------------------

    def advance(self, now: datetime, rules: Rules) -> None:
        """Turn the month, expire stale holds, forget ids older than the dedup window."""
        month = now.strftime("%Y-%m")
        if month > self.month:
            self.month, self.month_tokens = month, 0
        stale = [rid for rid, hold in self.holds.items() if now - hold.placed_at > rules.hold_ttl]
        for rid in stale:
            del self.holds[rid]
        # `applied` is insertion-ordered and ids arrive in about time order, so the expired
        # ones are at the front: drop them from there, O(1) per event rather than a full
        # rebuild. One that arrived out of order is dropped a little later, never early.
        horizon = now - rules.dedup_window
        while self.applied:
            oldest = next(iter(self.applied))
            if self.applied[oldest] >= horizon:
                break
            del self.applied[oldest]
            self.fingerprints.pop(oldest, None)

    def forget_old_keys(self, now: datetime) -> int:
        """Drop revoked and expired keys past ``INACTIVE_KEY_TTL``, and the oldest beyond
        ``KEPT_INACTIVE_KEYS``; return how many went (on a clock tick: O(keys))."""
        inactive = sorted(
            (k for k in self.keys.values() if k.status != "active"), key=lambda k: k.occurred_at
        )
        gone = [k for k in inactive if now - k.occurred_at > INACTIVE_KEY_TTL]
        kept = len(inactive) - len(gone)
        if kept > KEPT_INACTIVE_KEYS:
            survivors = [k for k in inactive if now - k.occurred_at <= INACTIVE_KEY_TTL]
            gone += survivors[: kept - KEPT_INACTIVE_KEYS]
        for key in gone:
            del self.keys[key.key_id]
            self.key_spend.pop(key.key_id, None)
        return len(gone)

    def seen(self, key: str) -> bool:
        return key in self.applied

    def first_delivery(self, producer: str, seq: int, now: datetime, rules: Rules) -> bool:
        """Whether this (producer, seq) request event is new. State is O(gateway processes)
        per account, not O(requests): a stream unseen for the dedup window is forgotten."""
        stream = self.streams.get(producer)
        if stream is None:
            horizon = now - rules.dedup_window
            for name in [n for n, s in self.streams.items() if s.last_seen < horizon]:
                del self.streams[name]
            stream = self.streams[producer] = Stream(next_seq=1, last_seen=now)
        return stream.accept(seq, now)

    # -- money ----------------------------------------------------------------------------

    def _entry(
        self, kind: LedgerEntryKind, amount: int, cause: Event, now: datetime, **extra: object
    ) -> LedgerEntryRecorded:
        """A ledger line moving the balance by ``amount``. Its id is deterministic
        (account:n), so a replay writes the same entries and readers drop the copies."""
        self.balance_nano += amount
        self.entries += 1
        entry_id = f"{self.account_id}:{self.entries}"
        fields: dict[str, Any] = {
            "request_id": None,
            "idempotency_key": None,
            "reason": None,
            "actor": getattr(cause, "actor", None),
            "model": None,
            "price_version": None,
            "input_cost_nano": 0,
            "output_cost_nano": 0,
            "cache_read_cost_nano": 0,
            "cache_write_cost_nano": 0,
            **extra,
        }
        return LedgerEntryRecorded.model_construct(
            None,
            event_id=entry_id,
            occurred_at=now,
            entry_id=entry_id,
            account_id=self.account_id,
            kind=kind,
            amount_nano=amount,
            balance_after_nano=self.balance_nano,
            cause_event_id=cause.event_id,
            **fields,
        )

    def _within_bounds(self, change: int, what: str) -> None:
        after = self.balance_nano + change
        if not -MAX_BALANCE_NANO <= after <= MAX_BALANCE_NANO:
            raise Rejected(
                "balance_limit",
                f"{what} would take the balance to {format_usd(after)} USD, past the stated "
                f"bound of {format_usd(MAX_BALANCE_NANO)} USD either way",
            )

    def top_up(
        self, amount: int, key: str, cause: Event, now: datetime, rules: Rules
    ) -> list[Event]:
        if amount < rules.min_top_up_nano:
            raise Rejected(
                "top_up_below_minimum",
                f"a top-up must be at least {format_usd(rules.min_top_up_nano)} USD",
            )
        fee = div_half_even(amount * rules.fee_bps, 10_000)
        received = amount + fee if rules.fee_mode == "add" else amount
        self._within_bounds(received - fee, "this top-up")
        self.applied[key] = now
        self.last_top_up_nano = amount
        return [
            self._entry("top_up", received, cause, now, idempotency_key=key),
            self._entry(
                "service_fee",
                -fee,
                cause,
                now,
                idempotency_key=key,
                reason=f"{rules.fee_bps / 100:g}% service fee ({rules.fee_mode})",
            ),
        ]

    def adjust(
        self, amount: int, reason: str, refund: bool, key: str, cause: Event, now: datetime
    ) -> list[Event]:
        self._within_bounds(amount, "this adjustment")
        self.applied[key] = now
        return [
            self._entry(
                "refund" if refund else "adjustment",
                amount,
                cause,
                now,
                idempotency_key=key,
                reason=reason,
            )
        ]

    def hold(self, request_id: str, amount: int, now: datetime, key_id: str = "") -> None:
        if request_id not in self.holds:
            self.holds[request_id] = Hold(amount_nano=amount, placed_at=now, key_id=key_id)

    def charge(
        self,
        request_id: str,
        charge: Charge | None,
        model: str,
        tokens: int,
        cause: Event,
        now: datetime,
        remember: bool = True,
        key_id: str = "",
    ) -> list[Event]:
        """Release the request's hold and charge its exact cost, to the account and to the
        key's spend. ``remember`` keeps the request id for the dedup window (for events that
        carry no producer sequence)."""
        cost = charge.total_nano if charge is not None else 0
        if self.balance_nano - cost < -MAX_BALANCE_NANO:
            raise Unappliable(
                f"charging {format_usd(cost)} USD would take the balance past its lowest bound"
            )
        hold = self.holds.pop(request_id, None)
        if remember:
            self.applied[request_id] = now
        self.month_tokens += tokens
        self._spend(hold.key_id if hold is not None else key_id, cost, now)
        if charge is None or charge.total_nano == 0:
            return []
        return [
            self._entry(
                "charge",
                -charge.total_nano,
                cause,
                now,
                request_id=request_id,
                model=model,
                price_version=charge.price_version,
                input_cost_nano=charge.input_nano,
                output_cost_nano=charge.output_nano,
                cache_read_cost_nano=charge.cache_read_nano,
                cache_write_cost_nano=charge.cache_write_nano,
            )
        ]

    # -- keys' spend limits ---------------------------------------------------------------------

    def _charged(self, key_id: str, now: datetime) -> tuple[str, int] | None:
        """The key's current spend period and its charges in it (None: no spend limit)."""
        record = self.keys.get(key_id)
        policy = record.policy if record is not None else None
        if policy is None or policy.spend_limit_nano is None:
            return None
        period = spend_period(policy.spend_period, now)
        known = self.key_spend.get(key_id)
        return period, known.spent_nano if known is not None and known.period == period else 0

    def _spend(self, key_id: str, cost: int, now: datetime) -> None:
        charged = self._charged(key_id, now)
        if charged is None or cost <= 0:
            return
        period, spent = charged
        self.key_spend[key_id] = KeySpend(
            period=period, spent_nano=min(spent + cost, MAX_BALANCE_NANO)
        )

    def key_spent(self, key_id: str, now: datetime) -> int:
        """The key's charges in its current period, and the holds of its requests in flight."""
        charged = self._charged(key_id, now)
        if charged is None:
            return 0
        return charged[1] + sum(h.amount_nano for h in self.holds.values() if h.key_id == key_id)

    def key_limit_changes(self, now: datetime) -> list[ApiKeyRecorded]:
        """Keys whose spend limit has just been reached, or no longer is (a new period, a
        hold released): their records, updated here, for every gateway."""
        changed = []
        for key_id, record in self.keys.items():
            limit = record.policy.spend_limit_nano if record.policy is not None else None
            if limit is None or record.status != "active":
                continue
            reached = self.key_spent(key_id, now) >= limit
            if reached != record.limit_reached:
                update = {"limit_reached": reached, "occurred_at": now}
                changed.append(record.model_copy(update=update))
        for record in changed:
            self.keys[record.key_id] = record
        return changed

    # -- alerts -------------------------------------------------------------------------------

    def low_balance_alerts(self, now: datetime, rules: Rules) -> list[BalanceRanLow]:
        """Alerts for thresholds the available balance has just fallen to; re-arm the rest.
        An account never topped up has nothing to fall from, so it gets none."""
        if self.last_top_up_nano == 0:
            return []
        thresholds = {
            "absolute": rules.alert_absolute_nano,
            "share_of_last_top_up": div_half_even(
                self.last_top_up_nano * rules.alert_share_of_top_up_bps, 10_000
            ),
        }
        alerts = []
        for kind, threshold in thresholds.items():
            if threshold <= 0:
                continue
            if self.available_nano <= threshold and kind not in self.alerted:
                self.alerted.add(kind)
                alerts.append(
                    BalanceRanLow.model_construct(
                        event_id=f"{self.account_id}:alert:{kind}:{self.entries}",
                        occurred_at=now,
                        account_id=self.account_id,
                        threshold_kind=kind,
                        threshold_nano=threshold,
                        available_nano=self.available_nano,
                        last_top_up_nano=self.last_top_up_nano,
                    )
                )
            elif self.available_nano > threshold:
                self.alerted.discard(kind)
        return alerts

    def quota_alerts(self, now: datetime) -> list[QuotaUsed]:
        """80 % and 100 % of the plan's monthly token quota, each once a month."""
        quota = self.plan.monthly_token_quota
        if not quota:
            return []
        alerts = []
        for percent in QUOTA_ALERT_PERCENTS:
            mark = f"quota{percent}:{self.month}"
            if self.month_tokens * 100 >= quota * percent and mark not in self.alerted:
                self.alerted -= {a for a in self.alerted if a.startswith(f"quota{percent}:")}
                self.alerted.add(mark)
                alerts.append(
                    QuotaUsed.model_construct(
                        event_id=f"{self.account_id}:quota:{percent}:{self.month}",
                        occurred_at=now,
                        account_id=self.account_id,
                        percent=percent,
                        month=self.month,
                        month_tokens=self.month_tokens,
                        monthly_token_quota=quota,
                        plan_name=self.plan.name,
                    )
                )
        return alerts

    # -- records ------------------------------------------------------------------------------

    def status_record(self, now: datetime) -> AccountStatusChanged:
        self.status = self.derive_status()
        self.sequence += 1
        plan = self.plan
        return AccountStatusChanged.model_construct(
            event_id=f"{self.account_id}:status:{self.sequence}",
            occurred_at=now,
            account_id=self.account_id,
            name=self.name,
            status=self.status,
            sequence=self.sequence,
            balance_nano=self.balance_nano,
            held_nano=self.held_nano,
            available_nano=self.available_nano,
            month_tokens=self.month_tokens,
            plan_name=plan.name,
            monthly_token_quota=plan.monthly_token_quota,
            requests_per_minute=plan.requests_per_minute,
            tokens_per_minute=plan.tokens_per_minute,
            applied_through=self._applied_through(now),
        )

    def _applied_through(self, now: datetime) -> dict[str, int]:
        """The gateway processes that sent this account events in the last hour (a gateway's
        reservation lives a request's length), at most the 1,000 latest."""
        recent = [(s.last_seen, p) for p, s in self.streams.items() if now - s.last_seen < _HOUR]
        return {p: self.streams[p].watermark for _, p in sorted(recent)[-1000:]}

    def result(
        self, command: Event, outcome: str, reason: str = "", code: str = ""
    ) -> CommandResult:
        return CommandResult.model_construct(
            event_id=f"{command.event_id}:result",
            occurred_at=command.occurred_at,
            command_id=command.event_id,
            account_id=self.account_id,
            outcome=outcome,
            reason=reason,
            code=code,
            balance_nano=self.balance_nano,
            available_nano=self.available_nano,
            status=self.derive_status(),
        )

    def snapshot(self, now: datetime) -> AccountSnapshot:
        return AccountSnapshot.model_construct(
            event_id=f"{self.account_id}:snapshot:{self.sequence}",
            occurred_at=now,
            **_kept(self),
            streams={name: s.record() for name, s in self.streams.items()},
            alerted=tuple(sorted(self.alerted)),
        )

    @classmethod
    def restore(cls, snap: AccountSnapshot) -> AccountState:
        return cls(
            **_kept(snap),
            streams={
                name: Stream(s.next_seq, s.last_seen, set(s.missing))
                for name, s in snap.streams.items()
            },
            alerted=set(snap.alerted),
        )
