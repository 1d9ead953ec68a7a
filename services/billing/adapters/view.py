"""What the admin API reads: every account's status, every key, command results, and the
audit trail of operators' commands.

Fed (``entrypoints/view_feed.py``) from ``tollway.account-status`` and ``tollway.api-keys``
(from the beginning: the current state), and ``tollway.billing-commands`` with
``tollway.command-results`` (from the beginning too, as far as the topics keep them: who
asked for what, and what came of it; a result also answers a command this process is
waiting on). Any billing process can answer for any account, whichever consumer owns it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas.events import (
    AccountStatusChanged,
    ApiKeyRecorded,
    Command,
    CommandResult,
    Event,
    MemberRecorded,
    SessionRecorded,
    WebhookRecorded,
)

__all__ = ["AdminView"]

#: How many of the newest commands the audit trail keeps in memory.
AUDIT_KEPT = 50_000


class AdminView:
    def __init__(self) -> None:
        self.accounts: dict[str, AccountStatusChanged] = {}
        self.keys: dict[str, ApiKeyRecorded] = {}
        self.webhooks: dict[str, WebhookRecorded] = {}
        #: Every member (removed ones too), active members by email, active sessions by
        #: the sha256 of their token.
        self.members: dict[str, MemberRecorded] = {}
        self.emails: dict[str, str] = {}
        self.sessions: dict[str, SessionRecorded] = {}
        self._waiters: dict[str, asyncio.Future[CommandResult]] = {}
        #: The newest commands (command id -> what the audit shows), oldest first.
        self._audit: OrderedDict[str, dict[str, Any]] = OrderedDict()
        #: Results read before their command (two topics, read in no fixed order).
        self._early: OrderedDict[str, CommandResult] = OrderedDict()

    def expect(self, command_id: str) -> asyncio.Future[CommandResult]:
        future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self._waiters[command_id] = future
        return future

    def forget(self, command_id: str) -> None:
        self._waiters.pop(command_id, None)

    async def caught_up(
        self, account_id: str, since: datetime, key_id: str | None, timeout: float
    ) -> bool:
        """Wait until the account's status here is as new as ``since`` and ``key_id`` (if
        any) is known (False at timeout)."""

        def seen() -> bool:
            status = self.accounts.get(account_id)
            fresh = status is not None and status.occurred_at >= since
            return fresh and (key_id is None or key_id in self.keys)

        return await self.wait_for(seen, timeout)

    @staticmethod
    async def wait_for(seen: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``seen()`` (False at timeout): a command's effect, read here."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not seen():
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def keys_of(self, account_id: str) -> list[ApiKeyRecorded]:
        return sorted(
            (k for k in self.keys.values() if k.account_id == account_id),
            key=lambda k: k.created_at,
        )

    def audit(self, account_id: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Operators' commands, newest first (of one account, if given)."""
        rows = (r for r in reversed(self._audit.values()))
        return [r for r in rows if account_id in (None, r["account_id"])][:limit]

    def _member(self, member: MemberRecorded) -> None:
        old = self.members.get(member.member_id)
        if old is not None and self.emails.get(old.email) == old.member_id:
            del self.emails[old.email]
        self.members[member.member_id] = member
        if member.status == "active":
            self.emails[member.email] = member.member_id

    def members_of(self, account_id: str) -> list[MemberRecorded]:
        return sorted(
            (m for m in self.members.values() if m.account_id == account_id),
            key=lambda m: m.created_at,
        )

    def _settle(self, result: CommandResult) -> None:
        row = self._audit[result.command_id]
        if result.outcome == "duplicate" and row["outcome"] in ("applied", "rejected"):
            return  # the same command read again (a rebalance): its outcome stands
        row["outcome"] = result.outcome
        if result.reason:
            self._audit[result.command_id]["reason_refused"] = result.reason

    def apply(self, event: Event) -> None:
        if isinstance(event, Command):
            self._audit[event.event_id] = {
                "command_id": event.event_id,
                "at": event.occurred_at.isoformat(),
                "command": event.TYPE,
                "account_id": event.account_id,
                "actor": event.actor,
                "amount_nano": getattr(event, "amount_nano", None),
                "reason": getattr(event, "reason", None),
                "outcome": "pending",
            }
            while len(self._audit) > AUDIT_KEPT:
                self._audit.popitem(last=False)
            early = self._early.pop(event.event_id, None)
            if early is not None:
                self._settle(early)
            return
        if isinstance(event, CommandResult):
            if event.command_id in self._audit:
                self._settle(event)
            else:  # the result's topic was read before the command's: keep it for the command
                self._early[event.command_id] = event
                while len(self._early) > AUDIT_KEPT:
                    self._early.popitem(last=False)
        if isinstance(event, WebhookRecorded):
            self.webhooks[event.webhook_id] = event
            return
        if isinstance(event, MemberRecorded):
            self._member(event)
            return
        if isinstance(event, SessionRecorded):
            if event.status == "active":
                self.sessions[event.token_hash] = event
            else:
                self.sessions.pop(event.token_hash, None)
            return
        if isinstance(event, AccountStatusChanged):
            old = self.accounts.get(event.account_id)
            if old is None or event.sequence >= old.sequence:
                self.accounts[event.account_id] = event
        elif isinstance(event, ApiKeyRecorded):
            self.keys[event.key_id] = event
        elif isinstance(event, CommandResult):
            future = self._waiters.pop(event.command_id, None)
            if future is not None and not future.done():
                future.set_result(event)
