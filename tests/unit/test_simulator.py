"""The upstream simulator answers like an OpenAI-compatible server, with real token counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from services.simulator.app import create_app
from services.simulator.settings import SimSettings
from services.simulator.tokens import PrefixCache, encoding


@pytest.fixture
async def sim() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SimSettings(models=("sim-small",), output_tokens=12))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client


def _chat(**extra: Any) -> dict[str, Any]:
    return {"model": "sim-small", "messages": [{"role": "user", "content": "Say hello"}], **extra}


def _events(text: str) -> list[Any]:
    lines = [ln[len("data: ") :] for ln in text.split("\n\n") if ln.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [orjson.loads(ln) for ln in lines[:-1]]


async def test_non_streaming_usage_counts_real_tokens(sim: httpx.AsyncClient) -> None:
    body = (await sim.post("/v1/chat/completions", json=_chat())).json()
    text = body["choices"][0]["message"]["content"]
    assert body["usage"]["completion_tokens"] == 12 == len(encoding().encode(text))
    assert body["usage"]["prompt_tokens"] > len(encoding().encode("Say hello"))
    assert body["choices"][0]["finish_reason"] == "stop"


async def test_max_tokens_caps_output_with_finish_reason_length(sim: httpx.AsyncClient) -> None:
    body = (await sim.post("/v1/chat/completions", json=_chat(max_tokens=3))).json()
    assert body["usage"]["completion_tokens"] == 3
    assert body["choices"][0]["finish_reason"] == "length"


async def test_stream_and_non_stream_report_the_same_usage(sim: httpx.AsyncClient) -> None:
    whole = (await sim.post("/v1/chat/completions", json=_chat())).json()
    streamed = await sim.post(
        "/v1/chat/completions", json=_chat(stream=True, stream_options={"include_usage": True})
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = _events(streamed.text)
    assert events[-1]["choices"] == []
    usage = events[-1]["usage"]
    assert usage["completion_tokens"] == whole["usage"]["completion_tokens"]
    content = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"])
    assert content == whole["choices"][0]["message"]["content"]


async def test_stream_without_include_usage_sends_no_usage(sim: httpx.AsyncClient) -> None:
    events = _events((await sim.post("/v1/chat/completions", json=_chat(stream=True))).text)
    assert all("usage" not in e for e in events)


async def test_repeated_prefix_reports_cached_tokens(sim: httpx.AsyncClient) -> None:
    long = "You are a careful assistant. " * 60
    first = (
        await sim.post(
            "/v1/chat/completions",
            json={
                "model": "sim-small",
                "messages": [
                    {"role": "system", "content": long},
                    {"role": "user", "content": "one"},
                ],
            },
        )
    ).json()
    second = (
        await sim.post(
            "/v1/chat/completions",
            json={
                "model": "sim-small",
                "messages": [
                    {"role": "system", "content": long},
                    {"role": "user", "content": "two"},
                ],
            },
        )
    ).json()
    assert first["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert 0 < cached < second["usage"]["prompt_tokens"]
    assert cached % 64 == 0


async def test_completions_endpoint(sim: httpx.AsyncClient) -> None:
    body = (
        await sim.post(
            "/v1/completions", json={"model": "sim-small", "prompt": "Once", "max_tokens": 4}
        )
    ).json()
    assert body["object"] == "text_completion"
    assert body["usage"] == {**body["usage"], "prompt_tokens": 1, "completion_tokens": 4}


async def test_tools_produce_a_tool_call(sim: httpx.AsyncClient) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    body = (await sim.post("/v1/chat/completions", json=_chat(tools=tools))).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]["function"]
    assert call["name"] == "get_weather"
    assert orjson.loads(call["arguments"]) == {"city": "example"}


async def test_models_lists_configured_models(sim: httpx.AsyncClient) -> None:
    body = (await sim.get("/v1/models")).json()
    assert [m["id"] for m in body["data"]] == ["sim-small"]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404, "model"),
        ({"model": "sim-small", "messages": []}, 400, "messages"),
        (
            {"model": "sim-small", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
            400,
            "max_tokens",
        ),
    ],
)
async def test_bad_requests_get_openai_errors(
    sim: httpx.AsyncClient, body: dict[str, Any], status: int, param: str
) -> None:
    response = await sim.post("/v1/chat/completions", json=body)
    assert response.status_code == status
    assert response.json()["error"]["param"] == param


async def test_injected_status_fault_applies_count_times(sim: httpx.AsyncClient) -> None:
    await sim.post("/_sim/faults", json={"mode": "status", "status": 503, "count": 2})
    codes = [(await sim.post("/v1/chat/completions", json=_chat())).status_code for _ in range(3)]
    assert codes == [503, 503, 200]


async def test_injected_drop_cuts_the_stream_midway(sim: httpx.AsyncClient) -> None:
    await sim.post("/_sim/faults", json={"mode": "drop", "after_chunks": 2})
    with pytest.raises(Exception, match="simulated drop"):
        await sim.post("/v1/chat/completions", json=_chat(stream=True))
    stats = (await sim.get("/_sim/stats")).json()
    assert stats["streams_dropped"] == 1


async def test_header_fault_overrides(sim: httpx.AsyncClient) -> None:
    response = await sim.post(
        "/v1/chat/completions", json=_chat(), headers={"x-sim-fail-status": "429"}
    )
    assert response.status_code == 429


def test_prefix_cache_counts_whole_blocks_only() -> None:
    cache = PrefixCache(block=4)
    assert cache.lookup_and_store(list(range(10))) == 0
    assert cache.lookup_and_store(list(range(10))) == 8
    assert cache.lookup_and_store([*range(5), 99, 98, 97, 96]) == 4
    assert cache.lookup_and_store([7, *range(9)]) == 0
