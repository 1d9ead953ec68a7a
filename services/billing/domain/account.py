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
from datetime import datetime
from typing import Any

from schemas.events import (
    AccountSnapshot,
    AccountStatus,
    AccountStatusChanged,
    ApiKeyRecorded,
    BalanceLow,
    CommandResult,
    Event,
    Hold,
    LedgerEntryKind,
    LedgerEntryRecorded,
    Plan,
    ProducerStream,
)

from .pricing import Charge, div_half_even
from .rules import Rules

__all__ = ["AccountState", "Rejected"]


class Rejected(ValueError):
    """A command that cannot apply; the message is the reason an operator reads."""


#: Overtaken events remembered per gateway process; beyond this the oldest gaps are
#: given up on (an event that far behind would be dropped as a copy).
MAX_MISSING = 1000


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

    def record(self) -> ProducerStream:
        return ProducerStream(
            next_seq=self.next_seq, missing=tuple(sorted(self.missing)), last_seen=self.last_seen
        )


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

    # -- derived ------------------------------------------------------------------------

    @property
    def held_nano(self) -> int:
        return sum(h.amount_nano for h in self.holds.values())

    @property
    def available_nano(self) -> int:
        return self.balance_nano - self.held_nano

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

    def top_up(
        self, amount: int, key: str, cause: Event, now: datetime, rules: Rules
    ) -> list[Event]:
        if amount < rules.min_top_up_nano:
            raise Rejected(f"a top-up must be at least {rules.min_top_up_nano} nano-USD")
        fee = div_half_even(amount * rules.fee_bps, 10_000)
        received = amount + fee if rules.fee_mode == "add" else amount
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

    def hold(self, request_id: str, amount: int, now: datetime) -> None:
        if request_id not in self.holds:
            self.holds[request_id] = Hold(amount_nano=amount, placed_at=now)

    def charge(
        self,
        request_id: str,
        charge: Charge | None,
        model: str,
        tokens: int,
        cause: Event,
        now: datetime,
        remember: bool = True,
    ) -> list[Event]:
        """Release the request's hold and charge its exact cost. ``remember`` keeps the
        request id for the dedup window (for events that carry no producer sequence)."""
        self.holds.pop(request_id, None)
        if remember:
            self.applied[request_id] = now
        self.month_tokens += tokens
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

    # -- alerts -------------------------------------------------------------------------------

    def low_balance_alerts(self, now: datetime, rules: Rules) -> list[BalanceLow]:
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
                    BalanceLow.model_construct(
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
        )

    def result(self, command: Event, outcome: str, reason: str = "") -> CommandResult:
        return CommandResult.model_construct(
            event_id=f"{command.event_id}:result",
            occurred_at=command.occurred_at,
            command_id=command.event_id,
            account_id=self.account_id,
            outcome=outcome,
            reason=reason,
            balance_nano=self.balance_nano,
            available_nano=self.available_nano,
            status=self.derive_status(),
        )

    def snapshot(self, now: datetime) -> AccountSnapshot:
        return AccountSnapshot.model_construct(
            event_id=f"{self.account_id}:snapshot:{self.sequence}",
            occurred_at=now,
            account_id=self.account_id,
            name=self.name,
            plan=self.plan,
            suspended=self.suspended,
            balance_nano=self.balance_nano,
            holds=dict(self.holds),
            month=self.month,
            month_tokens=self.month_tokens,
            last_top_up_nano=self.last_top_up_nano,
            status=self.status,
            sequence=self.sequence,
            keys=dict(self.keys),
            applied=dict(self.applied),
            streams={name: s.record() for name, s in self.streams.items()},
            entries=self.entries,
            alerted=tuple(sorted(self.alerted)),
        )

    @classmethod
    def restore(cls, snap: AccountSnapshot) -> AccountState:
        return cls(
            account_id=snap.account_id,
            name=snap.name,
            plan=snap.plan,
            suspended=snap.suspended,
            balance_nano=snap.balance_nano,
            holds=dict(snap.holds),
            month=snap.month,
            month_tokens=snap.month_tokens,
            last_top_up_nano=snap.last_top_up_nano,
            status=snap.status,
            sequence=snap.sequence,
            keys=dict(snap.keys),
            applied=dict(snap.applied),
            streams={
                name: Stream(s.next_seq, s.last_seen, set(s.missing))
                for name, s in snap.streams.items()
            },
            entries=snap.entries,
            alerted=set(snap.alerted),
        )
