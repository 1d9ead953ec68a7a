"""Every surface against every upstream kind, through the official SDKs, the real gateway and
the simulator: same-kind calls pass through, others are translated, and the request events
carry the usage the client was shown, streamed or not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from tests.integration.harness import EventTap, Provisioner
from tests.processes import ServiceProcess

pytestmark = pytest.mark.integration

CONTRACTS = Path(__file__).parents[2] / "contracts"
#: One model per upstream kind, all served by the same simulator.
SURFACE_NAMES = {
    "chat": "openai.chat",
    "anthropic": "anthropic.messages",
    "responses": "openai.responses",
}
MODELS = {
    "openai-chat": "sim-small",
    "anthropic": "claude-native",
    "openai-responses": "responses-native",
}


def _openai(gateway: ServiceProcess, secret: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)


def _anthropic(gateway: ServiceProcess, secret: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=gateway.url, api_key=secret, max_retries=0)


async def _call(
    surface: str, gateway: ServiceProcess, secret: str, model: str, stream: bool
) -> tuple[str, str, int]:
    """(request id, answer text, output tokens the client was shown)."""
    ask = "Say hello"
    if surface == "anthropic":
        client = _anthropic(gateway, secret)
        kw: dict[str, Any] = {
            "model": model,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": ask}],
        }
        if stream:
            async with client.messages.stream(**kw) as s:
                m = await s.get_final_message()
                request_id = s.response.headers["x-request-id"]
        else:
            m = await client.messages.create(**kw)
            request_id = m._request_id or ""
        return (
            request_id,
            "".join(b.text for b in m.content if b.type == "text"),
            m.usage.output_tokens,
        )
    if surface == "responses":
        oai = _openai(gateway, secret)
        if stream:
            events = await oai.responses.with_raw_response.create(
                model=model, input=ask, stream=True
            )
            request_id, final = events.headers["x-request-id"], None
            async for event in events.parse():
                final = event.response if event.type == "response.completed" else final
            assert final is not None
            r = final
        else:
            raw = await oai.responses.with_raw_response.create(model=model, input=ask)
            r, request_id = raw.parse(), raw.headers["x-request-id"]
        assert r.usage is not None
        return request_id, r.output_text, r.usage.output_tokens
    oai = _openai(gateway, secret)
    messages = [{"role": "user", "content": ask}]
    if stream:
        chunks = await oai.chat.completions.with_raw_response.create(
            model=model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},  # type: ignore[arg-type]
        )
        text, output = "", -1
        async for chunk in chunks.parse():
            text += "".join(c.delta.content or "" for c in chunk.choices)
            output = chunk.usage.completion_tokens if chunk.usage else output
        return chunks.headers["x-request-id"], text, output
    raw = await oai.chat.completions.with_raw_response.create(model=model, messages=messages)  # type: ignore[arg-type]
    c = raw.parse()
    assert c.usage is not None
    return (
        raw.headers["x-request-id"],
        c.choices[0].message.content or "",
        c.usage.completion_tokens,
    )


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("surface", ["chat", "anthropic", "responses"])
async def test_every_surface_meets_every_kind_with_the_same_tokens_streamed_or_not(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap, surface: str, kind: str
) -> None:
    tenant = await provision.tenant()
    seen = []
    for stream in (False, True):
        request_id, text, output = await _call(
            surface, gateway, tenant.secret, MODELS[kind], stream
        )
        assert text.startswith("The quick brown fox") and output > 0
        started, completed = await tap.both(request_id)
        assert started.model == MODELS[kind] and completed.status == "succeeded"
        assert completed.completion_tokens == output and completed.usage_source == "upstream"
        assert started.surface == SURFACE_NAMES[surface]
        seen.append((text, output))
    assert seen[0] == seen[1]


async def test_anthropic_upstreams_keep_prompt_caching_and_cache_writes_are_charged(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    client = _anthropic(gateway, tenant.secret)
    system = [
        {
            "type": "text",
            "text": "You answer in one line. " * 60,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    kw: dict[str, Any] = {
        "model": "claude-native",
        "max_tokens": 16,
        "system": system,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    first = await client.messages.create(**kw)
    again = await client.messages.create(**kw)
    written = first.usage.cache_creation_input_tokens or 0
    assert written > 300 and first.usage.cache_read_input_tokens == 0
    assert again.usage.cache_read_input_tokens == written
    _, recorded = await tap.both(first._request_id or "")
    assert recorded.cache_write_tokens == written
    assert recorded.prompt_tokens == first.usage.input_tokens + written
    _, reread = await tap.both(again._request_id or "")
    assert reread.cache_read_tokens == written and reread.cache_write_tokens == 0
    assert (first._request_id or "").startswith("req_")  # the SDK read Tollway's request-id


@pytest.mark.parametrize("model", ["claude-native", "sim-small", "responses-native"])
async def test_claude_codes_request_is_taken_whatever_the_upstream(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap, model: str
) -> None:
    """Mid-conversation system messages, thinking and redacted thinking, server-tool blocks,
    documents, cache_control, betas: all accepted, passed through or translated."""
    tenant = await provision.tenant()
    body = orjson.loads((CONTRACTS / "anthropic_request.json").read_bytes())
    body |= {"model": model, "stream": False}
    headers = {
        "authorization": f"Bearer {tenant.secret}",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
    }
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        answer = await http.post("/v1/messages?beta=true", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["request-id"] == answer.headers["x-request-id"]
    message = answer.json()
    assert message["type"] == "message" and message["model"] == model
    started, completed = await tap.both(answer.headers["request-id"])
    assert started.max_tokens == 4096  # 32,000 asked, lowered to the model's cap
    assert completed.completion_tokens == message["usage"]["output_tokens"]


@pytest.mark.parametrize("model", ["responses-native", "sim-small", "claude-native"])
async def test_codexs_request_is_taken_whatever_the_upstream(
    gateway: ServiceProcess, provision: Provisioner, model: str
) -> None:
    tenant = await provision.tenant()
    body = orjson.loads((CONTRACTS / "responses_request.json").read_bytes()) | {"model": model}
    events = []
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        auth = {"authorization": f"Bearer {tenant.secret}"}
        async with http.stream("POST", "/v1/responses", json=body, headers=auth) as answer:
            assert answer.status_code == 200
            async for line in answer.aiter_lines():
                if line.startswith("data: "):
                    events.append(orjson.loads(line[6:]))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert events[-1]["response"]["model"] == model
    assert [e["sequence_number"] for e in events] == sorted(e["sequence_number"] for e in events)


async def test_output_caps_and_choices_are_what_the_hold_covers(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    oai = _openai(gateway, tenant.secret)
    raw = await oai.chat.completions.with_raw_response.create(
        model="sim-small", messages=[{"role": "user", "content": "Hi"}], max_tokens=32000, n=3
    )
    started, completed = await tap.both(raw.headers["x-request-id"])
    assert (started.max_tokens, started.choices) == (4096, 3)  # the cap, for every choice
    assert completed.completion_tokens == 3 * 12  # the simulator wrote 12 tokens each
    with pytest.raises(anthropic.BadRequestError) as strict:
        await _anthropic(gateway, tenant.secret).messages.create(
            model="sim-strict", max_tokens=65, messages=[{"role": "user", "content": "Hi"}]
        )
    assert strict.value.body["error"]["message"] == (  # type: ignore[index]
        "max_tokens: 65 > 64, which is the maximum allowed number of output tokens for sim-strict"
    )
    with pytest.raises(openai.BadRequestError) as translated_n:
        await oai.chat.completions.create(
            model="claude-native", messages=[{"role": "user", "content": "Hi"}], n=2
        )
    assert translated_n.value.body["param"] == "n"  # type: ignore[index]


async def test_count_tokens_asks_an_anthropic_upstream_and_counts_here_for_others(
    gateway: ServiceProcess, provision: Provisioner
) -> None:
    tenant = await provision.tenant()
    client = _anthropic(gateway, tenant.secret)
    messages = [{"role": "user", "content": "How many tokens is this sentence?"}]
    for model in ("claude-native", "sim-small"):
        counted = await client.messages.count_tokens(model=model, messages=messages)  # type: ignore[arg-type]
        sent = await client.messages.create(model=model, max_tokens=5, messages=messages)  # type: ignore[arg-type]
        actual = sent.usage.input_tokens + (sent.usage.cache_read_input_tokens or 0)
        if model == "claude-native":  # the upstream counted its own way: exact
            assert counted.input_tokens == actual
        else:
            assert abs(counted.input_tokens - actual) <= 0.1 * actual + 3
