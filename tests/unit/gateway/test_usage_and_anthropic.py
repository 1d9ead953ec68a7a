from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.gateway.domain.anthropic import (
    StreamTranslator,
    anthropic_input,
    anthropic_to_openai,
    openai_to_anthropic,
)
from services.gateway.domain.params import CountTokensRequest, MessagesRequest, validate
from services.gateway.domain.usage import IMAGE_TOKENS, Usage, count_chat_prompt, count_text
from services.gateway.errors import BadRequest

tokens = st.integers(min_value=0, max_value=10**7)


@given(tokens, tokens, tokens, tokens)
def test_anthropic_usage_round_trips_to_one_meaning(
    inp: int, out: int, read: int, write: int
) -> None:
    raw = {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write,
    }
    usage = Usage.from_anthropic(raw)
    assert usage.prompt_tokens == inp + read + write
    assert usage.to_anthropic() == raw


def test_openai_usage_keeps_cached_inside_prompt() -> None:
    usage = Usage.from_openai(
        {
            "prompt_tokens": 100,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 64},
        }
    )
    assert usage == Usage(100, 5, 64, 0)
    assert usage.to_anthropic()["input_tokens"] == 36
    assert Usage.from_openai(None) is None


def _request(**extra: Any) -> MessagesRequest:
    return MessagesRequest.model_validate(
        {
            "model": "m",
            "max_tokens": 10,
            "system": [{"type": "text", "text": "Be brief."}],
            "messages": [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Checking."},
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "weather",
                            "input": {"city": "Oslo"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Snow"},
                        {"type": "text", "text": "And tomorrow?"},
                    ],
                },
            ],
            **extra,
        }
    )


def test_messages_translate_to_openai_chat() -> None:
    body = anthropic_to_openai(
        _request(
            tools=[{"name": "weather", "input_schema": {"type": "object"}}],
            tool_choice={"type": "any"},
            stop_sequences=["END"],
        ),
        "up",
        True,
    )
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "user"]
    assistant = body["messages"][2]
    assert assistant["content"] == "Checking."
    assert orjson.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"city": "Oslo"}
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "Snow"}
    assert body["tool_choice"] == "required" and body["stop"] == ["END"]
    assert body["tools"][0]["function"]["name"] == "weather"
    assert body["stream_options"] == {"include_usage": True}


def test_openai_answer_translates_to_an_anthropic_message() -> None:
    answer = {
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {
                    "content": "Let me look.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                        }
                    ],
                },
            }
        ]
    }
    message = openai_to_anthropic(answer, "claude-x", Usage(30, 7, 10, 0))
    assert message["stop_reason"] == "tool_use" and message["model"] == "claude-x"
    assert message["content"][1] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "weather",
        "input": {"city": "Oslo"},
    }
    assert (
        message["usage"]["input_tokens"] == 20 and message["usage"]["cache_read_input_tokens"] == 10
    )


def _events(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(part.split(b"data: ", 1)[1]) for part in raw.split(b"\n\n") if part]


def test_stream_translation_opens_and_closes_blocks_in_order() -> None:
    t = StreamTranslator("claude-x", prompt_estimate=9)
    out = t.start()
    for chunk in (
        {"choices": [{"index": 0, "delta": {"content": "Hi"}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "call_1", "function": {"name": "w", "arguments": ""}}
                        ]
                    },
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]},
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ):
        out += b"".join(t.chunk(chunk))
    out += b"".join(t.finish(Usage(9, 4)))
    kinds = [e["type"] for e in _events(out)]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    delta = _events(out)[-2]
    assert delta["delta"]["stop_reason"] == "tool_use" and delta["usage"]["output_tokens"] == 4


def test_counting_grows_with_each_part_of_the_input() -> None:
    user = {"role": "user", "content": "What is the weather in Lisbon?"}
    base = count_chat_prompt([user], [])
    longer = count_chat_prompt([{**user, "content": user["content"] * 3}], [])
    assert base > count_text(user["content"])  # message framing counts too
    assert longer - base == count_text(user["content"] * 3) - count_text(user["content"])
    assert count_chat_prompt([user, user], []) > base
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    with_image = {"role": "user", "content": [{"type": "text", "text": user["content"]}, image]}
    assert count_chat_prompt([with_image], []) == base + IMAGE_TOKENS
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    assert count_chat_prompt([user], [tool]) > base
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "t", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
        ],
    }
    assert count_chat_prompt([user, call], []) > count_chat_prompt(
        [user, {"role": "assistant", "content": None}], []
    )


def test_count_tokens_bodies_need_no_max_tokens_but_do_need_messages() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "system": "s"}
    messages, tools = anthropic_input(validate(CountTokensRequest, body))
    assert messages[0] == {"role": "system", "content": "s"} and tools == []
    with pytest.raises(BadRequest) as missing:
        validate(CountTokensRequest, {"model": "m", "messages": []})
    assert missing.value.param == "messages"


def test_usage_an_upstream_should_not_send_is_no_usage() -> None:
    for raw in (
        None,
        5,
        {"prompt_tokens": "many", "completion_tokens": 3},
        {"prompt_tokens": 10, "completion_tokens": -3},
        {"prompt_tokens": True, "completion_tokens": 3},
        {"prompt_tokens": 10},
    ):
        assert Usage.from_openai(raw) is None, raw  # the caller counts with the tokenizer
    odd_cache = {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": "x"}
    assert Usage.from_openai(odd_cache) == Usage(10, 2, 0, 0)
    too_cached = {
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "prompt_tokens_details": {"cached_tokens": 50},
    }
    assert Usage.from_openai(too_cached) == Usage(10, 2, 10, 0)  # a part never exceeds the whole
