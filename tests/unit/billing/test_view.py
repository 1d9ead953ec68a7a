"""The admin view's audit trail: commands and their results come on two topics, read in no
fixed order; the trail shows each command's outcome whichever arrives first."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.events import CommandResult, TopUp
from schemas.money import NANO_PER_USD
from services.billing.adapters.view import AdminView

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_the_audit_trail_settles_a_result_read_before_its_command() -> None:
    view = AdminView()
    top_up = TopUp(
        account_id="a", amount_nano=NANO_PER_USD * 10, idempotency_key="t", occurred_at=T0
    )
    result = CommandResult(
        command_id=top_up.event_id,
        account_id="a",
        outcome="rejected",
        reason="too small",
        status="active",
        balance_nano=0,
        available_nano=0,
        occurred_at=T0,
    )
    view.apply(result)  # the results topic was read first
    view.apply(top_up)
    (entry,) = view.audit("a")
    assert (entry["outcome"], entry["reason_refused"]) == ("rejected", "too small")


def test_a_command_read_again_after_a_rebalance_keeps_its_outcome() -> None:
    """A consumer that takes over a partition may read a command once more; billing answers
    "duplicate" for it, but the command itself was applied, and the trail says so."""
    view = AdminView()
    top_up = TopUp(
        account_id="a", amount_nano=NANO_PER_USD * 10, idempotency_key="t", occurred_at=T0
    )
    view.apply(top_up)
    for outcome in ("applied", "duplicate"):
        view.apply(
            CommandResult(
                command_id=top_up.event_id,
                account_id="a",
                outcome=outcome,
                status="active",
                balance_nano=0,
                available_nano=0,
                occurred_at=T0,
            )
        )
    (entry,) = view.audit("a")
    assert entry["outcome"] == "applied"
