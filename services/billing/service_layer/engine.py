"""Applies a batch of events to the accounts this consumer owns and collects what to write.

The consumer calls ``apply`` for each record in a batch, then ``touched_records``
once, and writes everything in one Kafka transaction with the batch's offsets.
One status and one snapshot per account per batch, however many events touched
it: at 20k events/s the compacted topics would otherwise take one record each.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from schemas.events import (
    AdjustBalance,
    ApiKeyRecorded,
    ChangePlan,
    ClockTicked,
    Command,
    CreateAccount,
    CreateApiKey,
    DeveloperAccessRequested,
    Event,
    KeyLimitReached,
    KeyPolicy,
    MemberRecorded,
    Plan,
    ReactivateAccount,
    RequestCompleted,
    RequestStarted,
    RevokeApiKey,
    RotateApiKey,
    SessionRecorded,
    SuspendAccount,
    TopUp,
)
from schemas.prices import PriceBook, UnknownPrice, hold_for, price_charge
from schemas.topics import (
    ACCOUNT_STATUS,
    ALERTS,
    API_KEYS,
    BALANCES,
    COMMAND_RESULTS,
    LEDGER,
    MEMBERS,
    Topic,
)

from ..domain.account import AccountState, Rejected
from ..domain.members import (
    MEMBER_COMMANDS,
    apply_member_command,
    expire_sessions,
    key_owner_may_create,
)
from ..domain.rules import Rules

__all__ = ["Engine", "Output", "Unroutable"]

Output = tuple[Topic, str, Event]

#: Active keys an account may hold: its state (and every snapshot of it) carries each key.
MAX_ACTIVE_KEYS = 1000


class Unroutable(ValueError):
    """An event billing cannot apply (unknown account, unknown price): dead-letter it."""


@dataclass
class Engine:
    prices: PriceBook
    rules: Rules = field(default_factory=Rules)
    accounts: dict[str, AccountState] = field(default_factory=dict)
    _touched: dict[str, datetime] = field(default_factory=dict)

    def apply(self, event: Event) -> list[Output]:
        if isinstance(event, RequestStarted | RequestCompleted):
            return self._request(event)
        if isinstance(event, Command):
            return self._command(event)
        # Not billing's to apply (a record on the wrong topic): the consumer parks it.
        raise TypeError(f"{event.TYPE} is not a billing command")

    def tick(self, tick: ClockTicked, account_ids: Iterable[str]) -> list[Output]:
        """Let time pass for ``account_ids`` (the accounts of the tick's partition): turn the
        month, expire holds past their TTL and rotated-out keys past their overlap, forget keys
        long revoked or expired (``AccountState.forget_old_keys``). An account
        whose status, holds or month moved gets a new status and snapshot; the rest are left
        alone, so a tick over idle accounts writes nothing."""
        now, out = tick.occurred_at, list[Output]()
        for account_id in sorted(account_ids):  # sorted: a replay writes the same order
            state = self.accounts.get(account_id)
            if state is None:
                continue
            before = (state.month, len(state.holds))
            written = len(out)
            state.advance(now, self.rules)
            for record in list(state.keys.values()):
                if record.status == "active" and record.expires_at and record.expires_at <= now:
                    expired = record.model_copy(update={"status": "expired", "occurred_at": now})
                    out.append(self._put_key(state, expired))
            out.extend((MEMBERS, s.session_id, s) for s in expire_sessions(state, now))
            released = state.key_limit_changes(now)  # a key's period turned, a hold expired
            out.extend(_key_limit_records(released))
            forgotten = state.forget_old_keys(now)
            if (
                released
                or forgotten
                or len(out) > written  # a key or session expired: the snapshot must say so
                or (state.month, len(state.holds)) != before
                or state.derive_status() != state.status
            ):
                self._touched[account_id] = now
        return out

    def touched_records(self) -> list[Output]:
        out: list[Output] = []
        for account_id, when in self._touched.items():
            state = self.accounts[account_id]
            out.extend(_key_limit_records(state.key_limit_changes(when)))
            out.extend((ALERTS, account_id, a) for a in state.low_balance_alerts(when, self.rules))
            out.extend((ALERTS, account_id, a) for a in state.quota_alerts(when))
            out.append((ACCOUNT_STATUS, account_id, state.status_record(when)))
            out.append((BALANCES, account_id, state.snapshot(when)))
        self._touched.clear()
        return out

    def discard_touched(self) -> None:
        """Forget what a batch that failed touched (its state is restored from the log)."""
        self._touched.clear()

    def forget(self, account_ids: set[str]) -> None:
        for account_id in account_ids:
            self.accounts.pop(account_id, None)

    # -- requests -------------------------------------------------------------------------------

    def _request(self, event: RequestStarted | RequestCompleted) -> list[Output]:
        state = self.accounts.get(event.account_id)
        if state is None:
            raise Unroutable(f"unknown account {event.account_id!r}")
        state.advance(event.occurred_at, self.rules)
        self._touched[state.account_id] = event.occurred_at
        # Priced first: an event that cannot apply must not be marked as applied.
        price = self._price(
            event.model,
            event.occurred_at if isinstance(event, RequestStarted) else event.started_at,
        )
        if event.producer is not None and event.producer_seq is not None:
            if not state.first_delivery(
                event.producer, event.producer_seq, event.occurred_at, self.rules
            ):
                return []  # a copy of an event already applied: charged once
            remember = False
        elif state.seen(event.request_id):
            return []  # an unsequenced copy, found by request id
        else:
            remember = True
        if isinstance(event, RequestStarted):
            cap = (event.max_tokens or self.rules.default_max_output_tokens) * (event.choices or 1)
            held = hold_for(price, event.prompt_tokens_estimate, cap)  # within MAX_BALANCE_NANO
            state.hold(event.request_id, held, event.occurred_at, event.key_id)
            return []
        charge = price_charge(
            price,
            event.prompt_tokens,
            event.completion_tokens,
            event.cache_read_tokens,
            event.cache_write_tokens,
        )
        tokens = event.prompt_tokens + event.completion_tokens
        entries = state.charge(
            event.request_id,
            charge,
            event.model,
            tokens,
            event,
            event.occurred_at,
            remember=remember,
            key_id=event.key_id,
        )
        return [(LEDGER, state.account_id, e) for e in entries]

    def _price(self, model: str, when: datetime):  # type: ignore[no-untyped-def]
        try:
            return self.prices.at(model, when)
        except UnknownPrice as exc:
            raise Unroutable(str(exc)) from None

    # -- commands -------------------------------------------------------------------------------

    def _command(self, command: Command) -> list[Output]:
        account_id, key = command.account_id, command.idempotency_key
        now = command.occurred_at
        state = self.accounts.get(account_id)
        if isinstance(command, CreateAccount):
            if state is not None:
                if state.seen(key):
                    return [self._result(state, command, "duplicate")]
                exists = f"account {account_id} already exists"
                return [self._result(state, command, "rejected", exists, "account_exists")]
            state = self.accounts[account_id] = AccountState(account_id, command.name, command.plan)
            state.month = now.strftime("%Y-%m")
        if state is None:
            return [self._orphan(command, account_id)]
        state.advance(now, self.rules)
        fingerprint = _fingerprint(command)
        if state.seen(key) and not isinstance(command, CreateAccount):
            if state.fingerprints.get(key, fingerprint) != fingerprint:
                conflict = "this idempotency key was already used for a different command"
                return [self._result(state, command, "rejected", conflict, "idempotency_conflict")]
            return [self._result(state, command, "duplicate")]
        self._touched[account_id] = now
        try:
            records = self._apply_command(state, command, now)
        except Rejected as exc:
            return [self._result(state, command, "rejected", str(exc), exc.code)]
        state.applied[key] = now
        state.fingerprints[key] = fingerprint
        return [*records, self._result(state, command, "applied")]

    def _apply_command(self, state: AccountState, command: Command, now: datetime) -> list[Output]:
        key = command.idempotency_key
        if isinstance(command, CreateAccount):
            return []
        if isinstance(command, TopUp):
            entries = state.top_up(command.amount_nano, key, command, now, self.rules)
            return [(LEDGER, state.account_id, e) for e in entries]
        if isinstance(command, AdjustBalance):
            entries = state.adjust(
                command.amount_nano, command.reason, command.refund, key, command, now
            )
            return [(LEDGER, state.account_id, e) for e in entries]
        if isinstance(command, ChangePlan):
            state.plan = command.plan  # the status written after this batch says what follows
            return []
        if isinstance(command, SuspendAccount | ReactivateAccount):
            state.suspended = isinstance(command, SuspendAccount)
            return []
        if isinstance(command, MEMBER_COMMANDS):
            return [_routed(e) for e in apply_member_command(state, command, now)]
        if isinstance(command, CreateApiKey):
            key_owner_may_create(state, command.member_id)
            return [
                self._key(
                    state,
                    command.key_id,
                    command.name,
                    command.prefix,
                    command.key_hash,
                    now,
                    policy=command.policy,
                    expires_at=command.expires_at,
                    member_id=command.member_id,
                )
            ]
        if isinstance(command, RevokeApiKey):
            old = self._existing_key(state, command.key_id)
            return [
                self._put_key(
                    state, old.model_copy(update={"status": "revoked", "occurred_at": now})
                )
            ]
        if isinstance(command, RotateApiKey):
            known = state.keys.get(command.key_id)
            if known is not None and known.expires_at is not None:  # expiring or expired
                raise Rejected(
                    "key_rotated",
                    f"key {command.key_id} is already rotated out; rotate its successor instead",
                )
            old = self._existing_key(state, command.key_id)
            expiring = old.model_copy(
                update={"expires_at": command.old_key_expires_at, "occurred_at": now}
            )
            # The successor keeps the key's limits and what it spent this period: rotating is
            # not a way around a spend limit.
            if old.key_id in state.key_spend:
                state.key_spend[command.new_key_id] = state.key_spend[old.key_id]
            return [
                self._put_key(state, expiring),
                self._key(
                    state,
                    command.new_key_id,
                    old.name,
                    command.prefix,
                    command.key_hash,
                    now,
                    policy=old.policy,
                    member_id=old.member_id,
                ),
            ]
        raise Rejected("unknown_command", f"unknown command {command.TYPE}")

    @staticmethod
    def _existing_key(state: AccountState, key_id: str) -> ApiKeyRecorded:
        record = state.keys.get(key_id)
        if record is None:
            raise Rejected(
                "key_not_found", f"key {key_id} does not belong to account {state.account_id}"
            )
        if record.status != "active":
            raise Rejected(f"key_{record.status}", f"key {key_id} is already {record.status}")
        return record

    def _key(
        self,
        state: AccountState,
        key_id: str,
        name: str,
        prefix: str,
        key_hash: str,
        now: datetime,
        policy: KeyPolicy | None = None,
        expires_at: datetime | None = None,
        member_id: str | None = None,
    ) -> Output:
        if key_id in state.keys:
            raise Rejected("key_exists", f"key {key_id} already exists")
        active = sum(1 for k in state.keys.values() if k.status == "active")
        if active >= MAX_ACTIVE_KEYS:
            raise Rejected(
                "key_limit",
                f"an account has at most {MAX_ACTIVE_KEYS} active keys; revoke some first",
            )
        return self._put_key(
            state,
            ApiKeyRecorded(
                event_id=f"{key_id}:{now.isoformat()}",
                occurred_at=now,
                key_id=key_id,
                account_id=state.account_id,
                name=name,
                prefix=prefix,
                key_hash=key_hash,
                status="active",
                created_at=now,
                policy=policy,
                expires_at=expires_at,
                member_id=member_id,
            ),
        )

    @staticmethod
    def _put_key(state: AccountState, record: ApiKeyRecorded) -> Output:
        state.keys[record.key_id] = record
        return (API_KEYS, record.key_id, record)

    @staticmethod
    def _result(
        state: AccountState, command: Event, outcome: str, reason: str = "", code: str = ""
    ) -> Output:
        return (COMMAND_RESULTS, state.account_id, state.result(command, outcome, reason, code))

    @staticmethod
    def _orphan(command: Event, account_id: str) -> Output:
        ghost = AccountState(account_id, "", Plan())
        return (
            COMMAND_RESULTS,
            account_id,
            ghost.result(command, "rejected", f"unknown account {account_id}", "account_not_found"),
        )


def _routed(event: Event) -> Output:
    """Where a member command's record goes: its topic, keyed as that topic is."""
    if isinstance(event, MemberRecorded):
        return (MEMBERS, event.member_id, event)
    if isinstance(event, SessionRecorded):
        return (MEMBERS, event.session_id, event)
    if isinstance(event, ApiKeyRecorded):
        return (API_KEYS, event.key_id, event)
    if isinstance(event, DeveloperAccessRequested):
        return (ALERTS, event.account_id, event)
    raise TypeError(f"no topic for {event.TYPE}")


def _key_limit_records(changed: list[ApiKeyRecorded]) -> list[Output]:
    """Each key record whose limit mark changed, and an alert for each newly reached."""
    out: list[Output] = []
    for record in changed:
        out.append((API_KEYS, record.key_id, record))
        if record.limit_reached and record.policy is not None:
            alert = KeyLimitReached(
                event_id=f"{record.key_id}:limit:{record.occurred_at.isoformat()}",
                occurred_at=record.occurred_at,
                account_id=record.account_id,
                key_id=record.key_id,
                key_name=record.name,
                spend_limit_nano=record.policy.spend_limit_nano or 0,
                spend_period=record.policy.spend_period,
            )
            out.append((ALERTS, record.account_id, alert))
    return out


def _fingerprint(command: Event) -> str:
    """A short digest of what a command asks (its type and values, not its ids or time)."""
    fields = command.model_dump(
        mode="json", exclude={"event_id", "occurred_at", "idempotency_key", "key_id"}
    )
    text = command.TYPE + orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
