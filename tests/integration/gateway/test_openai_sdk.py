"""The official OpenAI SDK against the gateway, and the events each request leaves in Kafka."""

from __future__ import annotations

import openai
import pytest

from tests.integration.harness import EventTap, Provisioner, openai_client
from tests.processes import ServiceProcess

pytestmark = pytest.mark.integration

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def _sync(gateway: ServiceProcess, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)


async def test_chat_non_streaming_writes_started_and_completed(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    raw = _sync(gateway, tenant.secret).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}], max_tokens=5
    )
    request_id = raw.headers["x-request-id"]
    reply = raw.parse()
    assert reply.model == "gpt-4o-mini"  # the id the client asked for
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 5

    started, completed = await tap.both(request_id)
    assert (started.account_id, started.key_id) == (tenant.account_id, tenant.key_id)
    assert (started.model, started.surface, started.stream) == ("sim-small", "openai.chat", False)
    assert started.deployment in ("sim-small-a", "sim-small-zdr")
    assert started.max_tokens == 5 and started.prompt_tokens_estimate > 0
    assert (completed.status, completed.http_status, completed.finish_reason) == (
        "succeeded",
        200,
        "length",
    )
    assert completed.prompt_tokens == reply.usage.prompt_tokens
    assert completed.completion_tokens == 5 and completed.usage_source == "upstream"
    assert completed.latency_ms >= completed.ttft_ms >= 0
    assert completed.started_at == started.occurred_at


async def test_streaming_and_not_streaming_yield_the_same_tokens(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    client = openai_client(gateway, tenant.secret)
    messages = [{"role": "user", "content": "Count the tokens of this exact sentence."}]
    whole = await client.chat.completions.with_raw_response.create(
        model="sim-large", messages=messages
    )
    stream = await client.chat.completions.with_raw_response.create(
        model="sim-large", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream.parse()]
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0].choices == []
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.parse().choices[0].message.content

    _, done_whole = await tap.both(whole.headers["x-request-id"])
    _, done_stream = await tap.both(stream.headers["x-request-id"])
    counts = lambda e: (e.prompt_tokens, e.completion_tokens, e.cache_read_tokens)  # noqa: E731
    assert counts(done_whole) == counts(done_stream)
    assert done_stream.stream and done_stream.usage_source == "upstream"
    assert usage_chunks[0].usage.completion_tokens == done_stream.completion_tokens


async def test_stream_without_include_usage_hides_usage_but_records_it(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    raw = _sync(gateway, tenant.secret).chat.completions.with_raw_response.create(
        model="sim-small", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = list(raw.parse())
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    _, completed = await tap.both(raw.headers["x-request-id"])
    assert completed.completion_tokens == 12 and completed.usage_source == "upstream"


async def test_completions_endpoint(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    raw = _sync(gateway, tenant.secret).completions.with_raw_response.create(
        model="sim-small", prompt="Once upon a time", max_tokens=4
    )
    assert raw.parse().usage.completion_tokens == 4
    started, completed = await tap.both(raw.headers["x-request-id"])
    assert started.surface == "openai.completions" and completed.completion_tokens == 4


async def test_tool_calls_round_trip(gateway: ServiceProcess, provision: Provisioner) -> None:
    tenant = await provision.tenant()
    client = openai_client(gateway, tenant.secret)
    reply = await client.chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=TOOLS,
        tool_choice="required",
    )
    call = reply.choices[0].message.tool_calls[0]
    assert reply.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    stream = await client.chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    arguments = ""
    async for chunk in stream:
        for delta_call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            arguments += delta_call.function.arguments or ""
    assert arguments == call.function.arguments


async def test_models_list_and_one_model(gateway: ServiceProcess, provision: Provisioner) -> None:
    tenant = await provision.tenant()
    client = _sync(gateway, tenant.secret)
    ids = {m.id for m in client.models.list()}
    assert {"sim-small", "gpt-4o-mini", "sim-large", "tollway-auto"} <= ids
    model = client.models.retrieve("sim-small")
    assert model.model_extra is not None
    assert model.model_extra["pricing"]["input"] == "0.150000000"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
