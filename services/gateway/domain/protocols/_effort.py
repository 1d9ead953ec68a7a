"""Reasoning effort and thinking budgets, which the protocols express differently."""

from __future__ import annotations

__all__ = ["budget_of_effort", "effort_of_budget", "plain_effort"]

#: Budgets at or above these many tokens read as medium, then high, effort.
_MEDIUM, _HIGH = 4_096, 16_384


def effort_of_budget(budget: int | None) -> str | None:
    if budget is None:
        return None
    return "low" if budget < _MEDIUM else "medium" if budget < _HIGH else "high"


def budget_of_effort(effort: str, max_output_tokens: int) -> int:
    """A thinking budget for an effort, below the output cap (Anthropic needs it so)."""
    wanted = {"minimal": 1_024, "low": 2_048, "medium": 8_192}.get(effort, 24_576)
    return max(1_024, min(wanted, max_output_tokens - 1))


def plain_effort(effort: str | None) -> str | None:
    """One of low/medium/high (or None): what every protocol that takes an effort knows."""
    if effort is None or effort == "none":
        return None
    if effort in ("minimal", "low"):
        return "low"
    return "medium" if effort == "medium" else "high"
