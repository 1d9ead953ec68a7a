"""Report periods and groupings, pure: what a caller may ask for, and how a period splits
between the daily rollups and the event tables.

Periods are half-open, ``from <= t < to``, UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ..errors import BadRequest

__all__ = ["GROUPS", "PERIODS", "Split", "grouping", "period", "split_period"]

#: Report periods over a source's ``day`` column.
PERIODS = {"day": "day", "week": "toMonday(day)", "month": "toStartOfMonth(day)"}
#: What the finance report groups by: at most one period, plus model and account.
GROUPS = {
    "day": "period",
    "week": "period",
    "month": "period",
    "model": "model",
    "account": "account_id",
}

#: The times a period may name: no usage predates Tollway, and arithmetic on the far ends
#: of datetime's range overflows.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)


def _when(raw: str | None, name: str, default: datetime) -> datetime:
    if raw is None:
        return default
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(
            f"'{name}' must be a date (2026-11-01) or an ISO 8601 time.", name
        ) from None
    value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if not EARLIEST <= value <= LATEST:
        raise BadRequest(f"'{name}' must fall between {EARLIEST.date()} and {LATEST.date()}.", name)
    return value


def period(start: str | None, end: str | None, now: datetime) -> tuple[datetime, datetime]:
    """``[from, to)`` from a caller's strings; by default the 30 days up to ``now``."""
    stop = _when(end, "to", now + timedelta(seconds=1))
    begin = _when(start, "from", stop - timedelta(days=30))
    if begin >= stop:
        raise BadRequest("'from' must be before 'to'.", "from")
    return begin, stop


def grouping(group_by: list[str]) -> tuple[list[str], list[str]]:
    """SQL expressions and the column names they yield, for a finance report's group_by."""
    periods = [g for g in group_by if g in PERIODS]
    if any(g not in GROUPS for g in group_by) or len(periods) > 1:
        raise BadRequest(
            "group_by takes at most one of day, week, month, plus model and account; "
            f"got {','.join(group_by)}",
            "group_by",
        )
    exprs = [
        f"{PERIODS[g]} AS period" if g in PERIODS else GROUPS[g]  # model, account_id
        for g in group_by
    ]
    return exprs, [GROUPS[g] for g in group_by]


@dataclass(frozen=True)
class Split:
    """How a period ``[start, end)`` is read: days ``first_day <= day < end_day`` not in
    ``stale`` from a rollup, and ``ranges`` (half-open, merged) from the event table."""

    first_day: date
    end_day: date
    stale: tuple[date, ...]
    ranges: tuple[tuple[datetime, datetime], ...]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def split_period(start: datetime | None, end: datetime, stale: frozenset[date]) -> Split:
    """``start`` None means since the beginning (the prepaid liability)."""
    end_day = end.astimezone(UTC).date()
    if start is None:
        first_day = date.min
    else:
        first_day = start.astimezone(UTC).date()
        if start > _midnight(first_day):
            first_day += timedelta(days=1)
    ranges: list[tuple[datetime, datetime]] = []

    def read(lo: datetime, hi: datetime) -> None:
        if lo >= hi:
            return
        if ranges and ranges[-1][1] >= lo:
            ranges[-1] = (ranges[-1][0], max(hi, ranges[-1][1]))
        else:
            ranges.append((lo, hi))

    if start is not None and first_day >= end_day:  # no whole day: all from the events
        read(start, end)
        return Split(end_day, end_day, (), tuple(ranges))
    if start is not None:
        read(start, _midnight(first_day))
    days = sorted(d for d in stale if first_day <= d < end_day)
    for day in days:
        read(_midnight(day), _midnight(day + timedelta(days=1)))
    read(_midnight(end_day), end)
    return Split(first_day, end_day, tuple(days), tuple(ranges))
