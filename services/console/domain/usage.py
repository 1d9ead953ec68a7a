"""Usage rows (metering's ``/v1/usage``) as daily series a chart draws: pure, no I/O.

Money stays in integer nano-USD here; only the chart's bar heights become floats (pixels),
and every figure a reader copies comes from the tables, which print the services' strings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.money import usd_to_nano

__all__ = ["TOKEN_KINDS", "Series", "by_field", "by_token_kind", "usage_totals"]

#: The token kinds a chart splits by, as metering names them.
TOKEN_KINDS = {
    "input (uncached)": "prompt_tokens",
    "cache read": "cache_read_tokens",
    "output": "completion_tokens",
}


@dataclass(frozen=True)
class Series:
    """Days on the x axis, and one list of values (a value per day) per named series."""

    days: list[str]
    values: dict[str, list[int]]

    @property
    def empty(self) -> bool:
        return not self.days


def _days(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    return sorted({str(r["day"]) for r in rows})


def _measure(row: Mapping[str, Any], measure: str) -> int:
    if measure == "cost":
        return usd_to_nano(str(row["cost"]))
    if measure == "tokens":
        return sum(int(row[c] or 0) for c in ("prompt_tokens", "completion_tokens"))
    return int(row[measure] or 0)


def by_field(rows: Sequence[Mapping[str, Any]], split: str, measure: str) -> Series:
    """``measure`` (``tokens``, ``cost`` in nano-USD, or a column) per day, one series per
    value of ``split`` (``model`` or ``key_id``)."""
    days = _days(rows)
    at = {day: i for i, day in enumerate(days)}
    values: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for row in rows:
        values[str(row[split])][at[str(row["day"])]] += _measure(row, measure)
    return Series(days, dict(sorted(values.items())))


def by_token_kind(rows: Sequence[Mapping[str, Any]]) -> Series:
    """Tokens per day split into uncached input, cache reads and output (prompt tokens
    include the cache reads, so the uncached part is their difference)."""
    days = _days(rows)
    at = {day: i for i, day in enumerate(days)}
    values = {kind: [0] * len(days) for kind in TOKEN_KINDS}
    for row in rows:
        i = at[str(row["day"])]
        cached = int(row["cache_read_tokens"] or 0)
        values["input (uncached)"][i] += int(row["prompt_tokens"] or 0) - cached
        values["cache read"][i] += cached
        values["output"][i] += int(row["completion_tokens"] or 0)
    return Series(days, values)


def usage_totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Requests, tokens by kind and cost (nano-USD) over every row."""
    totals = {c: 0 for c in ("requests", "prompt_tokens", "cache_read_tokens")}
    totals |= {"completion_tokens": 0, "cost_nano": 0}
    for row in rows:
        for column in ("requests", "prompt_tokens", "cache_read_tokens", "completion_tokens"):
            totals[column] += int(row[column] or 0)
        totals["cost_nano"] += usd_to_nano(str(row["cost"]))
    return totals
