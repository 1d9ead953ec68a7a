"""Report periods: what a caller may name, and how a period splits between the daily
rollups and the event tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.metering.domain.periods import grouping, period, split_period
from services.metering.errors import BadRequest

DAY0 = datetime(2026, 11, 2, tzinfo=UTC)


def test_a_split_reads_partial_and_stale_days_from_the_events() -> None:
    at = DAY0 + timedelta(hours=6)
    d = DAY0.date()
    split = split_period(at, DAY0 + timedelta(days=5, hours=12), frozenset({d + timedelta(days=2)}))
    assert (split.first_day, split.end_day) == (d + timedelta(days=1), d + timedelta(days=5))
    assert split.stale == (d + timedelta(days=2),)
    assert split.ranges == (
        (at, DAY0 + timedelta(days=1)),
        (DAY0 + timedelta(days=2), DAY0 + timedelta(days=3)),
        (DAY0 + timedelta(days=5), DAY0 + timedelta(days=5, hours=12)),
    )
    # Adjacent ranges merge; stale days outside the period are ignored.
    stale = frozenset({d, d + timedelta(days=1), d + timedelta(days=9)})
    split = split_period(DAY0, DAY0 + timedelta(days=3), stale)
    assert split.ranges == ((DAY0, DAY0 + timedelta(days=2)),)
    assert split.stale == (d, d + timedelta(days=1))
    # Within one day: no whole day, all of it from the events.
    split = split_period(at, at + timedelta(hours=2), frozenset())
    assert split.ranges == ((at, at + timedelta(hours=2)),) and split.first_day == split.end_day
    # Whole days, caught up: nothing from the events.
    assert split_period(DAY0, DAY0 + timedelta(days=7), frozenset()).ranges == ()
    # From the beginning (the liability): the end's partial day and stale days.
    split = split_period(None, at, frozenset({d - timedelta(days=40)}))
    assert (split.first_day, split.end_day) == (date.min, d)
    assert split.ranges == ((DAY0 - timedelta(days=40), DAY0 - timedelta(days=39)), (DAY0, at))


def test_a_period_defaults_to_thirty_days_and_refuses_what_it_cannot_read() -> None:
    start, end = period(None, None, DAY0)
    assert end - start == timedelta(days=30) and end > DAY0
    assert period("2026-11-01", "2026-11-02T12:00:00+02:00", DAY0) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 2, 10, tzinfo=UTC),
    )
    for start_text, end_text, param in (
        ("yesterday", None, "from"),
        (None, "0001-01-01", "to"),
        ("2026-11-02", "2026-11-01", "from"),
        ("9999-01-01", None, "from"),
    ):
        with pytest.raises(BadRequest) as refused:
            period(start_text, end_text, DAY0)
        assert refused.value.param == param and refused.value.status == 400


def test_a_grouping_takes_one_period_plus_model_and_account() -> None:
    assert grouping(["week", "model", "account"]) == (
        ["toMonday(day) AS period", "model", "account_id"],
        ["period", "model", "account_id"],
    )
    for bad in (["day", "month"], ["region"]):
        with pytest.raises(BadRequest, match="group_by"):
            grouping(bad)
