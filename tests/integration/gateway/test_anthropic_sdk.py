"""The official Anthropic SDK against /v1/messages, translated to an OpenAI-compatible upstream."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import pytest

from tests.factories import WEATHER
from tests.integration.harness import EventTap, Provisioner
from tests.processes import ServiceProcess

pytestmark = pytest.mark.integration


def _client(gateway: ServiceProcess, secret: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=secret, max_retries=0)


async def test_message_non_streaming_with_usage_in_anthropic_meaning(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    raw = _client(gateway, tenant.secret).messages.with_raw_response.create(
        model="claude-sonnet-latest",
        max_tokens=6,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hello"}],
    )
    message = raw.parse()
    assert message.model == "claude-sonnet-latest" and message.stop_reason == "max_tokens"
    assert message.content[0].type == "text" and message.usage.output_tokens == 6
    started, completed = await tap.both(raw.headers["x-request-id"])
    assert started.surface == "anthropic.messages" and started.model == "sim-large"
    # Anthropic's input_tokens excludes cache reads; Tollway's prompt_tokens includes them.
    assert completed.prompt_tokens == (
        message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0)
    )
    # What it cost, at the test catalog's sim-large prices (2.50 in, 1.25 cache read, 10 out
    # USD per 1M tokens), as billing charges it: in a header and in usage.cost.
    cost = Decimal(raw.headers["x-tollway-cost-usd"])
    uncached = completed.prompt_tokens - completed.cache_read_tokens
    exact = uncached * Decimal("2.5") + completed.cache_read_tokens * Decimal("1.25") + 6 * 10
    assert cost * 10**6 == exact.quantize(Decimal("0.001"))
    assert message.usage.model_extra == {"cost": float(cost)}


async def test_streaming_matches_non_streaming_including_cache_reads(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    client = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=tenant.secret, max_retries=0)
    system = "You are a meticulous assistant who answers with care. " * 40
    ask = {
        "model": "sim-large",
        "max_tokens": 8,
        "system": system,
        "messages": [{"role": "user", "content": "Tell me something."}],
    }
    first = await client.messages.create(**ask)
    second = await client.messages.create(**ask)
    async with client.messages.stream(**ask) as stream:
        streamed = await stream.get_final_message()
        request_id = stream.response.headers["x-request-id"]
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens and second.usage.cache_read_input_tokens > 0
    assert streamed.content[0].text == second.content[0].text
    assert (
        streamed.usage.input_tokens,
        streamed.usage.output_tokens,
        streamed.usage.cache_read_input_tokens,
    ) == (
        second.usage.input_tokens,
        second.usage.output_tokens,
        second.usage.cache_read_input_tokens,
    )
    _, completed = await tap.both(request_id)
    assert completed.cache_read_tokens == streamed.usage.cache_read_input_tokens
    assert completed.prompt_tokens == streamed.usage.input_tokens + completed.cache_read_tokens


async def test_tool_use_round_trip(gateway: ServiceProcess, provision: Provisioner) -> None:
    tenant = await provision.tenant()
    client = _client(gateway, tenant.secret)
    message = client.messages.create(
        model="sim-small",
        max_tokens=50,
        tools=[WEATHER],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert message.stop_reason == "tool_use"
    use = next(block for block in message.content if block.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"city": "example"}
    follow_up = client.messages.create(
        model="sim-small",
        max_tokens=50,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": message.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Sunny"}],
            },
        ],
    )
    assert follow_up.stop_reason == "end_turn" and follow_up.content[0].type == "text"
    assert "Sunny" in follow_up.content[0].text  # the tool's result reached the model
    with client.messages.stream(
        model="sim-small",
        max_tokens=50,
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "Weather?"}],
    ) as stream:
        final = stream.get_final_message()
    streamed_use = next(block for block in final.content if block.type == "tool_use")
    assert streamed_use.input == {"city": "example"} and final.stop_reason == "tool_use"


async def test_errors_come_in_anthropic_shape(
    gateway: ServiceProcess, provision: Provisioner
) -> None:
    tenant = await provision.tenant()
    with pytest.raises(anthropic.AuthenticationError) as bad_key:
        _client(gateway, "tw_wrong").messages.create(
            model="sim-small", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    body = bad_key.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "authentication_error" and body["request_id"].startswith("req_")
    with pytest.raises(anthropic.BadRequestError) as bad_param:
        _client(gateway, tenant.secret).messages.create(
            model="sim-small",
            max_tokens=5,
            messages=[{"role": "user", "content": "x"}],
            extra_body={"temperature": 1.5},
        )
    assert bad_param.value.body["error"]["param"] == "temperature"  # type: ignore[index]
    await provision.set_status(tenant, "insufficient_balance")
    with pytest.raises(anthropic.APIStatusError) as broke:
        _client(gateway, tenant.secret).messages.create(
            model="sim-small", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert broke.value.status_code == 402
    assert broke.value.body["error"]["type"] == "billing_error"  # type: ignore[index]


async def test_count_tokens_predicts_the_input_a_message_reports_and_writes_no_events(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    client = _client(gateway, tenant.secret)
    ask: dict[str, Any] = {
        "model": "claude-sonnet-latest",
        "system": "You are a meticulous assistant. " * 20,
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": "What is the weather in Lisbon today? " * 10}],
    }
    counted = client.messages.with_raw_response.count_tokens(**ask)
    count = counted.parse().input_tokens
    bare = client.messages.count_tokens(
        model="claude-sonnet-latest", messages=[{"role": "user", "content": "Hi"}]
    ).input_tokens
    assert 0 < bare < 20 < count
    raw = client.messages.with_raw_response.create(max_tokens=5, **ask)
    reported = raw.parse().usage.input_tokens
    # The upstream tokenizes its own way; a count is an estimate, close to what is billed.
    assert abs(count - reported) <= 0.1 * reported, (count, reported)

    await tap.both(raw.headers["x-request-id"])  # events are keyed by account: in order
    assert counted.headers["x-request-id"] not in tap.by_request
    mine = [e for evs in tap.by_request.values() for e in evs if e.account_id == tenant.account_id]
    assert len(mine) == 2  # the message's started and completed, nothing for counting


async def test_count_tokens_refuses_in_anthropic_shape(
    gateway: ServiceProcess, provision: Provisioner
) -> None:
    tenant = await provision.tenant()
    hello = [{"role": "user", "content": "Hello"}]
    with pytest.raises(anthropic.AuthenticationError) as bad_key:
        _client(gateway, "tw_wrong").messages.count_tokens(model="sim-small", messages=hello)
    assert bad_key.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError) as unknown:
        _client(gateway, tenant.secret).messages.count_tokens(model="no-such", messages=hello)
    assert unknown.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert unknown.value.body["request_id"].startswith("req_")  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as no_messages:
        _client(gateway, tenant.secret).messages.count_tokens(model="sim-small", messages=[])
    assert no_messages.value.body["error"]["param"] == "messages"  # type: ignore[index]

    # Counting is free: an exhausted balance may still count, a suspended account may not.
    await provision.set_status(tenant, "insufficient_balance")
    counted = _client(gateway, tenant.secret).messages.count_tokens(
        model="sim-small", messages=hello
    )
    assert counted.input_tokens > 0
    await provision.set_status(tenant, "suspended")
    with pytest.raises(anthropic.PermissionDeniedError) as suspended:
        _client(gateway, tenant.secret).messages.count_tokens(model="sim-small", messages=hello)
    assert suspended.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
