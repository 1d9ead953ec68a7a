"""Time, as events: ``clock.tick`` on ``tollway.clock`` (one record per partition).

Billing turns months, expires holds and expires rotated-out keys when time
passes, not only when an account's next event happens to arrive: an account
blocked by its monthly quota sends no more events, and a hold a dead gateway
left behind would otherwise block an account until someone touched it. Billing
never reads the clock for that inside an account's state; it applies ticks,
which its consumer writes to each partition it owns, so a replay of the log
makes the same transitions at the same instants.
"""

from __future__ import annotations

from pydantic import Field

from ._base import Event

__all__ = ["ClockTicked"]


class ClockTicked(Event, type="clock.tick"):
    #: The partition it was written to (the accounts of that partition are advanced to
    #: ``occurred_at``).
    partition: int = Field(ge=0, le=10_000)
    #: The billing instance that wrote it.
    by: str = Field(default="", max_length=64)
