"""The translation table (docs/translation.md), entry by entry: what each surface's request
keeps, maps or drops on its way to each other kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from services.gateway.domain.protocols.kinds import KINDS
from services.gateway.domain.protocols.surfaces import SURFACES
from services.gateway.errors import BadRequest

FIXTURES = Path(__file__).parents[2] / "contracts"


def _to(surface: str, fixture: str, kind: str, reasons: bool = True, **changes: Any) -> Any:
    body = {**orjson.loads((FIXTURES / fixture).read_bytes()), **changes}
    s = SURFACES[surface]  # type: ignore[index]
    return KINDS[kind].encode(s.conversation(s.parse(body), 4096), "up", 4096, reasons)


def test_claude_codes_request_on_a_chat_upstream() -> None:
    body = _to("anthropic.messages", "anthropic_request.json", "openai-chat")
    roles = [m["role"] for m in body["messages"]]
    # top system, user, mid-conversation system kept in place, assistant, tool result, user
    assert roles == ["system", "user", "system", "assistant", "tool", "user"]
    user = body["messages"][1]["content"]
    assert [p["type"] for p in user] == ["text", "text", "image_url", "text", "file"]
    assert user[2]["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgo="
    assert user[3]["text"] == "notes.txt\n\nNotes: ship on Friday."
    assistant = body["messages"][3]
    assert assistant["content"] == "Reading it."  # thinking and server-tool blocks dropped
    assert orjson.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {
        "file_path": "/tmp/a.txt"
    }
    assert body["messages"][4] == {
        "role": "tool",
        "tool_call_id": "toolu_01A",
        "content": "1\thello",
    }
    assert [t["function"]["name"] for t in body["tools"]] == ["Read", "Bash"]  # server tool dropped
    assert body["parallel_tool_calls"] is False and body["tool_choice"] == "auto"
    assert body["reasoning_effort"] == "high" and body["stop"] == ["\n\nHuman:"]
    assert body["max_tokens"] == 4096 and body["stream_options"] == {"include_usage": True}
    assert "reasoning_effort" not in _to(
        "anthropic.messages", "anthropic_request.json", "openai-chat", reasons=False
    )


def test_claude_codes_request_on_a_responses_upstream() -> None:
    body = _to("anthropic.messages", "anthropic_request.json", "openai-responses")
    assert body["instructions"].startswith("x-anthropic-billing-header")
    kinds = [(i["type"], i.get("role")) for i in body["input"]]
    assert kinds == [
        ("message", "user"),
        ("message", "developer"),
        ("message", "assistant"),
        ("function_call", None),
        ("function_call_output", None),
        ("message", "user"),
    ]
    assert body["store"] is False and body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"]


def test_codexs_request_on_an_anthropic_upstream() -> None:
    body = _to("openai.responses", "responses_request.json", "anthropic")
    assert body["system"] == [  # instructions and the leading developer message
        {"type": "text", "text": "You are a coding agent running in the Codex CLI."},
        {"type": "text", "text": "<permissions>read-only</permissions>"},
    ]
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    call = body["messages"][1]["content"]
    assert call == [
        {"type": "tool_use", "id": "call_1", "name": "exec_command", "input": {"cmd": "ls"}}
    ]  # Responses reasoning (encrypted for OpenAI) cannot be replayed to Anthropic
    assert body["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "call_1",
        "content": [{"type": "text", "text": "a.txt\nb.txt"}],
    }
    assert [t["name"] for t in body["tools"]] == ["exec_command"]  # namespace, web_search dropped
    assert body["thinking"]["type"] == "enabled" and "temperature" not in body


def test_reasoning_goes_back_only_to_the_provider_that_made_it() -> None:
    same = _to("openai.responses", "responses_request.json", "openai-responses")
    replayed = [i for i in same["input"] if i["type"] == "reasoning"]
    assert replayed == [
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "Listing first."}],
            "encrypted_content": "gAAAAABn2encrypted",
            "id": "rs_1",
        }
    ]
    anthropic = _to("anthropic.messages", "anthropic_request.json", "anthropic")
    thinking = anthropic["messages"][2]["content"][:2]
    assert thinking == [
        {
            "type": "thinking",
            "thinking": "I should read the file.",
            "signature": "EqQBCgIYAhIM1gbcDa9GJwZA",
        },
        {
            "type": "redacted_thinking",
            "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP",
        },
    ]


def test_cache_breakpoints_survive_a_trip_through_another_surface() -> None:
    body = _to("anthropic.messages", "anthropic_request.json", "anthropic")
    assert body["system"][1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][0]["content"][4]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][3]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["tools"][1]["cache_control"] == {"type": "ephemeral"}


def test_opencodes_request_on_an_anthropic_upstream() -> None:
    body = _to("openai.chat", "chat_request.json", "anthropic")
    assert body["system"] == [
        {"type": "text", "text": "You are opencode, an interactive CLI tool."}
    ]
    results = body["messages"][2]["content"]
    assert [b["type"] for b in results] == ["tool_result", "tool_result", "text"]
    assert body["messages"][1]["content"][1] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "read",
        "input": {"filePath": "/tmp/a.txt"},
    }
    assert body["thinking"]["budget_tokens"] == 2048  # reasoning_effort low
    assert "temperature" not in body and "top_p" not in body  # Anthropic takes none with thinking
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert body["metadata"] == {"user_id": "user-42"}


def test_what_cannot_be_translated_is_refused_in_the_callers_words() -> None:
    with pytest.raises(BadRequest) as many:
        _to("openai.chat", "chat_request.json", "anthropic", n=2)
    assert many.value.param == "n"
    completions = SURFACES["openai.completions"]
    for body, param in (
        ({"model": "m", "prompt": [1, 2, 3]}, "prompt"),
        ({"model": "m", "prompt": "x", "echo": True}, "echo"),
        ({"model": "m", "prompt": "x", "best_of": 3}, "n"),
    ):
        with pytest.raises(BadRequest) as refused:
            completions.conversation(completions.parse(body), 16)
        assert refused.value.param == param


def test_stateful_responses_are_refused_with_a_reason() -> None:
    responses = SURFACES["openai.responses"]
    for field, value in (("previous_response_id", "resp_1"), ("background", True)):
        with pytest.raises(BadRequest) as refused:
            responses.parse({"model": "m", "input": "x", field: value})
        assert refused.value.param == field and "Tollway does not keep" in refused.value.message
    with pytest.raises(BadRequest) as reference:
        responses.parse({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]})
    assert reference.value.param == "input.0"
