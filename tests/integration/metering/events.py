"""Events as the gateway and billing write them, put straight into ClickHouse by tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.events import Event, LedgerEntryRecorded, RequestCompleted, RequestStarted
from services.metering.domain.rows import tables_of

__all__ = [
    "ACCOUNTS",
    "DAY0",
    "MODELS",
    "Ledger",
    "insert_events",
    "request_events",
    "week_of_history",
]

DAY0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
ACCOUNTS = ("acc_a", "acc_b", "acc_c")
MODELS = ("m-small", "m-large")


def insert_events(client: Client, events: Sequence[Event], *, ingested_then: bool = False) -> None:
    """Write ``events`` as the sink does (Arrow, one insert per table). ``ingested_then``:
    stamp rows as ingested when they happened (history), not now."""
    for name, table in tables_of(events).items():
        if ingested_then:
            table = table.append_column("ingested_at", table["occurred_at"])
        client.insert_arrow(name, table)


def request_events(
    request_id: str,
    account_id: str,
    at: datetime,
    *,
    took: timedelta = timedelta(seconds=1),
    model: str = "m",
    estimate: int = 10,
    prompt: int = 10,
    completion: int = 5,
    cache_read: int = 0,
) -> tuple[RequestStarted, RequestCompleted]:
    """``request.started`` at ``at`` and a successful ``request.completed`` ``took`` later."""
    common = {
        "request_id": request_id,
        "account_id": account_id,
        "key_id": f"key-{account_id}",
        "model": model,
        "deployment": "d",
        "surface": "openai.chat",
        "stream": False,
    }
    return (
        RequestStarted(**common, prompt_tokens_estimate=estimate, occurred_at=at),
        RequestCompleted(
            **common,
            started_at=at,
            status="succeeded",
            http_status=200,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cache_read_tokens=cache_read,
            cache_write_tokens=0,
            usage_source="upstream",
            latency_ms=took.total_seconds() * 1000,
            occurred_at=at + took,
        ),
    )


class Ledger:
    """One account's entries, numbered, each with the balance after it."""

    def __init__(self, account: str, events: list[Event]) -> None:
        self.account, self.events, self.seq, self.balance = account, events, 0, 0

    def entry(self, kind: str, amount: int, at: datetime, **extra: Any) -> None:
        self.seq, self.balance = self.seq + 1, self.balance + amount
        self.events.append(
            LedgerEntryRecorded(
                entry_id=f"{self.account}:{self.seq}",
                event_id=f"{self.account}:{self.seq}",
                account_id=self.account,
                kind=kind,
                amount_nano=amount,
                balance_after_nano=self.balance,
                cause_event_id=f"cause-{self.account}-{self.seq}",
                occurred_at=at,
                **extra,
            )
        )


def week_of_history() -> list[Event]:
    """Seven days; per account: a top-up and its fee on day 0, three requests a day at
    different hours (charged), a refund on day 3, an adjustment on day 5."""
    events: list[Event] = []
    for a, account in enumerate(ACCOUNTS):
        entry = Ledger(account, events).entry
        entry("top_up", 50_000_000_000, DAY0 + timedelta(minutes=5))
        entry("service_fee", -1_500_000_000, DAY0 + timedelta(minutes=5))
        for d in range(7):
            for r, hour in enumerate((1, 11, 23)):
                at = DAY0 + timedelta(days=d, hours=hour, minutes=7 * a)
                rid, model = f"req-{account}-{d}-{r}", MODELS[(d + r + a) % 2]
                prompt, completion = 100 + 10 * d + r, 20 + a
                started, completed = request_events(
                    rid,
                    account,
                    at,
                    took=timedelta(seconds=2),
                    model=model,
                    estimate=90,
                    prompt=prompt,
                    completion=completion,
                    cache_read=r,
                )
                events.extend((started, completed))
                done = completed.occurred_at
                costs = {
                    "input_cost_nano": prompt * 1000,
                    "output_cost_nano": completion * 3000,
                    "cache_read_cost_nano": r * 100,
                    "cache_write_cost_nano": 7 * a,
                }
                entry("charge", -sum(costs.values()), done, request_id=rid, model=model, **costs)
            if d == 3:
                entry("refund", 2_000_000, DAY0 + timedelta(days=d, hours=12), reason="support")
            if d == 5:
                entry("adjustment", -700_000, DAY0 + timedelta(days=d, hours=13), reason="fix")
    return events
