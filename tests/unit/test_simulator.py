"""The upstream simulator answers as OpenAI chat, OpenAI Responses and Anthropic Messages
servers do, with real token counts, and calls tools when asked or scripted."""

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

    async def ask(question: str) -> dict[str, Any]:
        messages = [{"role": "system", "content": long}, {"role": "user", "content": question}]
        answer = await sim.post(
            "/v1/chat/completions", json={"model": "sim-small", "messages": messages}
        )
        return dict(answer.json())

    first, second = await ask("one"), await ask("two")
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


CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": CITY}}]


async def test_a_tool_is_called_only_when_forced(sim: httpx.AsyncClient) -> None:
    asked = _chat(
        tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_weather"}}
    )
    choice = (await sim.post("/v1/chat/completions", json=asked)).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]["function"]
    assert call["name"] == "get_weather"
    assert orjson.loads(call["arguments"]) == {"city": "example"}
    plain = (await sim.post("/v1/chat/completions", json=_chat(tools=TOOLS))).json()
    assert plain["choices"][0]["finish_reason"] == "stop"
    forced = _chat(tools=TOOLS, tool_choice="required")
    forced_choice = (await sim.post("/v1/chat/completions", json=forced)).json()["choices"][0]
    assert forced_choice["finish_reason"] == "tool_calls"


async def test_a_scripted_call_then_the_result_is_quoted_back(sim: httpx.AsyncClient) -> None:
    script = {"tool": "get_weather", "arguments": {"city": "Oslo"}, "count": 1}
    assert (await sim.post("/_sim/script", json=script)).status_code == 201
    first = (await sim.post("/v1/chat/completions", json=_chat(tools=TOOLS))).json()
    call = first["choices"][0]["message"]["tool_calls"][0]
    assert orjson.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    again = (await sim.post("/v1/chat/completions", json=_chat(tools=TOOLS))).json()
    assert again["choices"][0]["finish_reason"] == "stop"  # the script was used up
    messages = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "Sunny, 21 C"},
    ]
    answer = (
        await sim.post("/v1/chat/completions", json=_chat(messages=messages, tools=TOOLS))
    ).json()
    assert "Sunny, 21 C" in answer["choices"][0]["message"]["content"]


def _messages(**extra: Any) -> dict[str, Any]:
    return {
        "model": "sim-small",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Say hello"}],
        **extra,
    }


def _named_events(text: str) -> list[dict[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        name, data = block.split("\n", 1)
        event = orjson.loads(data.removeprefix("data: "))
        assert name == f"event: {event['type']}"
        events.append(event)
    return events


async def test_anthropic_messages_write_then_read_a_cached_prefix(sim: httpx.AsyncClient) -> None:
    system = [
        {"type": "text", "text": "You are terse. " * 40, "cache_control": {"type": "ephemeral"}}
    ]
    first = (await sim.post("/v1/messages", json=_messages(system=system))).json()
    assert first["type"] == "message" and first["stop_reason"] == "end_turn"
    written = first["usage"]["cache_creation_input_tokens"]
    assert written > 100 and first["usage"]["cache_read_input_tokens"] == 0
    second = (await sim.post("/v1/messages", json=_messages(system=system))).json()
    assert second["usage"]["cache_read_input_tokens"] == written
    assert second["usage"]["cache_creation_input_tokens"] == 0
    assert second["usage"]["input_tokens"] == first["usage"]["input_tokens"]


async def test_anthropic_stream_matches_the_whole_answer(sim: httpx.AsyncClient) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    whole = (await sim.post("/v1/messages", json=_messages(thinking=thinking))).json()
    streamed = await sim.post("/v1/messages", json=_messages(thinking=thinking, stream=True))
    events = _named_events(streamed.text)
    assert [e["type"] for e in events][:2] == ["message_start", "ping"]
    assert events[-1]["type"] == "message_stop"
    assert [b["type"] for b in whole["content"]] == ["thinking", "text"]
    text = "".join(
        e["delta"]["text"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta"
    )
    assert text == whole["content"][1]["text"]
    final = next(e for e in events if e["type"] == "message_delta")
    assert final["usage"] == whole["usage"]
    assert whole["usage"]["output_tokens_details"]["thinking_tokens"] > 0
    counted = (
        await sim.post("/v1/messages/count_tokens", json=_messages(thinking=thinking))
    ).json()
    assert counted["input_tokens"] == whole["usage"]["input_tokens"]


async def test_responses_stream_and_whole_answer_agree(sim: httpx.AsyncClient) -> None:
    body = {
        "model": "sim-small",
        "input": "Say hello",
        "reasoning": {"effort": "low"},
        "include": ["reasoning.encrypted_content"],
    }
    whole = (await sim.post("/v1/responses", json=body)).json()
    assert whole["object"] == "response" and whole["status"] == "completed"
    assert [item["type"] for item in whole["output"]] == ["reasoning", "message"]
    assert whole["output"][0]["encrypted_content"]
    assert whole["usage"]["output_tokens_details"]["reasoning_tokens"] > 0
    events = _named_events((await sim.post("/v1/responses", json={**body, "stream": True})).text)
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == whole["output"][1]["content"][0]["text"]
    assert events[-1]["response"]["usage"] == whole["usage"]


async def test_responses_call_a_scripted_function(sim: httpx.AsyncClient) -> None:
    await sim.post("/_sim/script", json={"tool": "shell", "arguments": {"cmd": "ls"}})
    tools = [{"type": "function", "name": "shell", "parameters": {"type": "object"}}]
    body = (
        await sim.post("/v1/responses", json={"model": "sim-small", "input": "hi", "tools": tools})
    ).json()
    call = next(item for item in body["output"] if item["type"] == "function_call")
    assert call["name"] == "shell" and orjson.loads(call["arguments"]) == {"cmd": "ls"}


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


async def test_a_fault_or_script_the_simulator_cannot_read_is_a_422(
    sim: httpx.AsyncClient,
) -> None:
    for path, bad in (("/_sim/faults", {"status": "x"}), ("/_sim/script", {"count": 1})):
        refused = await sim.post(path, json=bad)
        assert refused.status_code == 422 and refused.json()["detail"], (path, refused.text)
    assert (await sim.get("/_sim/faults")).json() == []


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
