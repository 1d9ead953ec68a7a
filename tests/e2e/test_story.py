"""The whole story through public surfaces only: the official SDKs, the gateway's HTTP API and
the ``tollway`` CLI, against the stack ``make run`` starts. Every charge is recomputed here,
independently, from the shipped catalog's prices and the usage each response reported."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.factories import WEATHER
from tests.pricing import cost_nano, openai_cost
from tests.stack import RunningStack
from tests.support import eventually

pytestmark = pytest.mark.e2e

FEE_BPS = 500  # the default service fee, deducted from each top-up


class Wallet:
    """What the balance must be, request by request, and the charges to find in reports."""

    def __init__(self, http: httpx.AsyncClient, balance_nano: int) -> None:
        self.http, self.balance_nano = http, balance_nano
        self.charges: dict[str, int] = {}

    async def reported(self) -> dict[str, Any]:
        response = await self.http.get("/v1/balance")
        return dict(response.json())

    async def charged(self, request_id: str, cost: int) -> None:
        assert cost > 0 and request_id not in self.charges
        self.charges[request_id] = cost
        self.balance_nano -= cost
        await eventually(
            self.reported,
            lambda b: b.get("balance_nano") == self.balance_nano,
            what=f"balance after {request_id} (cost {cost})",
        )


async def test_prepaid_story_end_to_end(stack: RunningStack) -> None:
    began = datetime.now(UTC) - timedelta(seconds=5)
    gateway = stack.url("gateway")

    # 1. An operator creates an account, tops it up with 10 USD and issues a key.
    account = stack.cli_json("accounts", "create", "E2E Co")["account_id"]
    topped = stack.cli_json("topup", account, "10")
    first_fee = 10 * 10**9 * FEE_BPS // 10_000
    assert topped["balance_nano"] == 10 * 10**9 - first_fee
    key = stack.cli_json("keys", "create", account, "--name", "e2e")
    oai = openai.AsyncOpenAI(base_url=gateway + "/v1", api_key=key["secret"], max_retries=0)
    ant = anthropic.AsyncAnthropic(base_url=gateway, api_key=key["secret"], max_retries=0)
    auth = {"authorization": f"Bearer {key['secret']}"}
    async with httpx.AsyncClient(base_url=gateway, headers=auth, timeout=30) as http:
        wallet = Wallet(http, topped["balance_nano"])
        await eventually(
            wallet.reported, lambda b: b.get("status") == "active", what="key and balance"
        )

        # 2. Every surface, each charged exactly its priced cost.
        raw = await oai.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", max_tokens=12, messages=[{"role": "user", "content": "Hi"}]
        )
        await wallet.charged(
            raw.headers["x-request-id"], openai_cost("gpt-4o-mini", raw.parse().usage)
        )

        stream = await oai.chat.completions.create(
            model="sim-small",
            messages=[{"role": "user", "content": "Stream to me"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        usage = chunks[-1].usage
        assert usage is not None and usage.completion_tokens > 0
        await wallet.charged(
            stream.response.headers["x-request-id"], openai_cost("sim-small", usage)
        )

        raw_c = await oai.completions.with_raw_response.create(
            model="sim-small", prompt="Once upon a time", max_tokens=7
        )
        completion = raw_c.parse()
        assert completion.usage is not None and completion.usage.completion_tokens == 7
        await wallet.charged(
            raw_c.headers["x-request-id"], openai_cost("sim-small", completion.usage)
        )

        raw_m = await ant.messages.with_raw_response.create(
            model="claude-sonnet-latest",
            max_tokens=64,
            tools=[WEATHER],
            tool_choice={"type": "any"},
            messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        )
        message = await raw_m.parse()
        assert message.stop_reason == "tool_use"
        assert any(block.type == "tool_use" for block in message.content)
        cached = message.usage.cache_read_input_tokens or 0
        await wallet.charged(
            raw_m.headers["x-request-id"],
            cost_nano(
                "claude-sonnet-latest",
                message.usage.input_tokens,
                cached,
                message.usage.output_tokens,
            ),
        )

        long_prompt = "You are a careful assistant who checks every figure twice. " * 120
        for attempt in range(2):
            raw = await oai.chat.completions.with_raw_response.create(
                model="sim-large",
                max_tokens=5,
                messages=[
                    {"role": "system", "content": long_prompt},
                    {"role": "user", "content": "Summarise."},
                ],
            )
            usage = raw.parse().usage
            details = usage.prompt_tokens_details
            cached_now = details.cached_tokens if details else 0
            assert (cached_now > 0) == (attempt == 1), usage  # the repeat reads the cache
            await wallet.charged(raw.headers["x-request-id"], openai_cost("sim-large", usage))

        # 3. Spend until refused: the SDKs raise the 402, the balance agrees.
        filler = " ".join(f"ledger{i}" for i in range(12_000))
        largest = 0
        refused: openai.APIStatusError | None = None
        for i in range(300):
            try:
                raw = await oai.chat.completions.with_raw_response.create(
                    model="sim-large",
                    max_tokens=1,
                    messages=[{"role": "user", "content": f"{i} {filler}"}],
                )
            except openai.APIStatusError as exc:
                refused = exc
                break
            cost = openai_cost("sim-large", raw.parse().usage)
            largest = max(largest, cost)
            await wallet.charged(raw.headers["x-request-id"], cost)
        assert refused is not None, "the balance never ran out"
        assert refused.status_code == 402 and refused.code == "insufficient_balance"
        assert refused.response.headers["x-request-id"] in str(refused.body)
        with pytest.raises(anthropic.APIStatusError) as anthropic_refused:
            await ant.messages.create(
                model="claude-sonnet-latest",
                max_tokens=5,
                messages=[{"role": "user", "content": "Still there?"}],
            )
        assert anthropic_refused.value.status_code == 402
        assert anthropic_refused.value.body["error"]["type"] == "billing_error"
        shown = await wallet.reported()
        assert shown["status"] == "insufficient_balance" and shown["available_nano"] <= 0
        assert shown["balance_nano"] == wallet.balance_nano
        assert wallet.balance_nano > -largest  # overspend: less than one request's cost

        # 4. A second top-up: requests work again within a second of billing applying it.
        again = stack.cli_json("topup", account, "10")
        second_fee = first_fee
        wallet.balance_nano += 10 * 10**9 - second_fee
        assert again["balance_nano"] == wallet.balance_nano
        applied_at = time.monotonic()

        async def ask() -> Any:
            try:
                return await oai.chat.completions.with_raw_response.create(
                    model="sim-small", max_tokens=3, messages=[{"role": "user", "content": "ok?"}]
                )
            except openai.APIStatusError as exc:
                return exc

        raw = await eventually(
            ask,
            lambda r: not isinstance(r, Exception),
            timeout=1.0,
            interval=0.05,
            what="requests accepted after the top-up",
            scaled=False,  # a product bound, not a test budget
        )
        assert time.monotonic() - applied_at < 1.5
        await wallet.charged(
            raw.headers["x-request-id"], openai_cost("sim-small", raw.parse().usage)
        )

        # 5. Revoking the key shuts it out within a second.
        stack.cli_json("keys", "revoke", key["key_id"])
        revoked = await eventually(
            ask,
            lambda r: isinstance(r, openai.APIStatusError) and r.status_code == 401,
            timeout=1.0,
            interval=0.05,
            what="the revoked key refused",
            scaled=False,
        )
        assert revoked.code == "invalid_api_key"

    # 6. Finance sees the revenue, the fees and what is still owed; nothing to reconcile; each
    #    request's trail is there.
    period = [
        "--from",
        began.isoformat(),
        "--to",
        (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
    ]
    revenue = sum(wallet.charges.values())

    async def report() -> dict[str, Any]:
        return stack.cli_json("report", "finance", *period, "--group-by", "account")

    found = await eventually(
        report,
        lambda r: (
            r["totals"]["revenue_nano"] == revenue
            and r["totals"]["requests"] >= len(wallet.charges)
        ),
        timeout=30,
        what="the finance report",
    )
    (row,) = [r for r in found["rows"] if r["account_id"] == account]
    assert row["revenue_nano"] == revenue
    assert row["fees_nano"] == first_fee + second_fee
    assert row["top_ups_nano"] == 20 * 10**9
    assert found["prepaid_liability_nano"] == wallet.balance_nano
    assert stack.cli("reconcile", *period).stdout.strip() == "reconciled: no mismatch"
    for request_id, cost in wallet.charges.items():
        trail = stack.cli_json("request", request_id)
        assert trail["account_id"] == account and trail["state"] == "completed"
        assert trail["charge"]["cost_nano"] == cost
        assert [e["event_type"] for e in trail["events"]] == [
            "request.started",
            "request.completed",
        ]
