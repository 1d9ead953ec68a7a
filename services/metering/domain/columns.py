"""Each stored measure declared once. The Arrow schemas the sink writes, the report select
lists, their zero rows and the lookup's breakdowns are made from these names; the SQL
migrations, append-only, state them once more each."""

from __future__ import annotations

__all__ = ["COSTS", "FLOWS", "LAST_ENTRY", "TOKENS", "USAGE", "zeros"]

#: Tokens of a completed request, by kind (request_events, usage_daily).
TOKENS = ("prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_write_tokens")
#: A charge's cost by token kind, nano-USD (ledger_entries, revenue_daily).
COSTS = ("input_cost_nano", "output_cost_nano", "cache_read_cost_nano", "cache_write_cost_nano")
#: What the usage rollup sums per day x account x model.
USAGE = ("requests", *TOKENS)
#: Money moved per day x account x model, nano-USD, signed as a report shows it (revenue
#: and fees positive), then revenue by token kind.
FLOWS = (
    "revenue_nano",
    "fees_nano",
    "top_ups_nano",
    "refunds_nano",
    "adjustments_nano",
    *COSTS,
)
#: Per day x account x model: the last ledger entry and the balance after it (liability).
LAST_ENTRY = ("last_entry_seq", "last_balance_nano")


def zeros(*names: str) -> dict[str, int]:
    return dict.fromkeys(names, 0)
