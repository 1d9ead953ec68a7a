"""Each protocol module held to the providers' own contracts.

Fixtures in ``tests/contracts/`` are requests, answers and streams written from the
providers' public API references (and, for requests, from what Claude Code, Codex and
OpenCode send). Every translated request is checked against the official SDK's own
request types, and every answer Tollway writes is read back by the official SDK client
(over an in-memory transport), so a shape the SDK would not take fails here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import orjson
import pytest
from anthropic.types.message_create_params import MessageCreateParams
from openai.types.chat.completion_create_params import CompletionCreateParams
from openai.types.responses.response_create_params import ResponseCreateParams
from pydantic import TypeAdapter

from services.gateway.domain.conversation import Answer, ToolCall, UsageSeen
from services.gateway.domain.protocols.kinds import KINDS
from services.gateway.domain.protocols.surfaces import SURFACES
from services.gateway.domain.usage import Usage

FIXTURES = Path(__file__).parents[2] / "contracts"
SURFACE_OF_KIND = {
    "openai-chat": "openai.chat",
    "anthropic": "anthropic.messages",
    "openai-responses": "openai.responses",
}
#: Kept alive for the whole run: lists validated lazily still need their adapter.
REQUEST_TYPES: dict[str, TypeAdapter[Any]] = {
    "openai-chat": TypeAdapter(CompletionCreateParams),
    "anthropic": TypeAdapter(MessageCreateParams),
    "openai-responses": TypeAdapter(ResponseCreateParams),
}
FIXTURE_PREFIX = {"openai-chat": "chat", "anthropic": "anthropic", "openai-responses": "responses"}


def _fixture(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def _stream(kind: str) -> list[dict[str, Any]]:
    text = (FIXTURES / f"{FIXTURE_PREFIX[kind]}_stream.sse").read_text()
    payloads = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    return [orjson.loads(p) for p in payloads if p != "[DONE]"]


def _answer(kind: str) -> dict[str, Any]:
    name = {"openai-chat": "chat_completion", "anthropic": "anthropic_message"}.get(
        kind, "responses_response"
    )
    return dict(_fixture(f"{name}.json"))


def _deep(value: Any) -> Any:
    """Walk what pydantic validated: lists the SDK types declare as ``Iterable`` are only
    checked as they are iterated."""
    if isinstance(value, dict):
        return {k: _deep(v) for k, v in value.items()}
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return value
    try:
        return [_deep(v) for v in value]
    except TypeError:
        return value


@pytest.mark.parametrize("surface_kind", list(SURFACE_OF_KIND))
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_surface_translates_to_a_request_the_kinds_sdk_accepts(
    surface_kind: str, kind: str
) -> None:
    surface = SURFACES[SURFACE_OF_KIND[surface_kind]]  # type: ignore[index]
    parsed = surface.parse(_fixture(f"{FIXTURE_PREFIX[surface_kind]}_request.json"))
    body = KINDS[kind].encode(surface.conversation(parsed, 8192), "upstream-model", 8192, True)
    _deep(REQUEST_TYPES[kind].validate_python(body))
    assert body["model"] == "upstream-model"


# -- answers and streams, read back by the official clients ------------------------------------


def _mock(http: Any, body: bytes, stream: bool) -> Any:
    """A client of the ``http`` package (each SDK brings its own) that answers ``body``."""
    kind = "text/event-stream" if stream else "application/json"

    def answer(request: Any) -> Any:
        return http.Response(200, content=body, headers={"content-type": kind})

    return http.Client(transport=http.MockTransport(answer))


def _anthropic(body: bytes, stream: bool) -> anthropic.Anthropic:
    client = _mock(httpx2, body, stream)
    return anthropic.Anthropic(api_key="k", base_url="http://gw", http_client=client)


def _openai(body: bytes, stream: bool) -> openai.OpenAI:
    client = _mock(httpx, body, stream)
    return openai.OpenAI(api_key="k", base_url="http://gw/v1", http_client=client)


def _seen(answer: Answer) -> tuple[str, list[tuple[str, Any]]]:
    calls = [(p.name, orjson.loads(p.arguments)) for p in answer.parts if isinstance(p, ToolCall)]
    return answer.text, calls


class Client:
    """One surface's official client: what it makes of an answer Tollway wrote."""

    @staticmethod
    def whole(surface: str, body: dict[str, Any]) -> tuple[str, list[tuple[str, Any]], int]:
        raw = orjson.dumps(body)
        if surface == "anthropic.messages":
            m = _anthropic(raw, False).messages.create(model="m", max_tokens=1, messages=[])
            calls = [(b.name, b.input) for b in m.content if b.type == "tool_use"]
            text = "".join(b.text for b in m.content if b.type == "text")
            return text, calls, m.usage.output_tokens
        if surface == "openai.responses":
            r = _openai(raw, False).responses.create(model="m", input="x")
            calls = [
                (i.name, orjson.loads(i.arguments)) for i in r.output if i.type == "function_call"
            ]
            return r.output_text, calls, r.usage.output_tokens if r.usage else -1
        c = _openai(raw, False).chat.completions.create(model="m", messages=[])
        message = c.choices[0].message
        calls = [
            (t.function.name, orjson.loads(t.function.arguments)) for t in message.tool_calls or ()
        ]
        return message.content or "", calls, c.usage.completion_tokens if c.usage else -1

    @staticmethod
    def streamed(surface: str, raw: bytes) -> tuple[str, list[tuple[str, Any]], int]:
        if surface == "anthropic.messages":
            client = _anthropic(raw, True)
            with client.messages.stream(model="m", max_tokens=1, messages=[]) as s:
                m = s.get_final_message()
            calls = [(b.name, b.input) for b in m.content if b.type == "tool_use"]
            text = "".join(b.text for b in m.content if b.type == "text")
            return text, calls, m.usage.output_tokens
        if surface == "openai.responses":
            with _openai(raw, True).responses.stream(model="m", input="x") as rs:
                r = rs.get_final_response()
            calls = [
                (i.name, orjson.loads(i.arguments)) for i in r.output if i.type == "function_call"
            ]
            return r.output_text, calls, r.usage.output_tokens if r.usage else -1
        with _openai(raw, True).chat.completions.stream(model="m", messages=[]) as cs:
            c = cs.get_final_completion()
        message = c.choices[0].message
        calls = [
            (t.function.name, orjson.loads(t.function.arguments)) for t in message.tool_calls or ()
        ]
        return message.content or "", calls, c.usage.completion_tokens if c.usage else -1


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize("kind", list(KINDS))
def test_an_answer_of_every_kind_reads_right_in_every_surfaces_client(
    surface: str, kind: str
) -> None:
    answer = KINDS[kind].read_answer(_answer(kind))
    assert answer.usage is not None
    text, calls = _seen(answer)
    written = SURFACES[surface].answer(answer, "public-model", answer.usage)  # type: ignore[index]
    if surface == "openai.completions":
        assert written["choices"][0]["text"] == text
        return
    assert Client.whole(surface, written) == (text, calls, answer.usage.completion_tokens)


def _relay(
    kind: str, write: Callable[[Any], bytes], tail: Callable[[Usage], bytes]
) -> Iterator[bytes]:
    reader, usage = KINDS[kind].reader(), None
    for event in _stream(kind):
        for ours in reader.feed(event):
            usage = ours.usage if isinstance(ours, UsageSeen) else usage
            yield write(ours)
    assert reader.finished and usage is not None
    yield tail(usage)


@pytest.mark.parametrize("surface", ["openai.chat", "anthropic.messages", "openai.responses"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_stream_of_every_kind_reads_right_in_every_surfaces_client(
    surface: str, kind: str
) -> None:
    """Streamed and whole answers of one upstream give the client the same text, tool calls
    and tokens, whichever surface it speaks."""
    expected = _seen(KINDS[kind].read_answer(_answer(kind)))
    writer = SURFACES[surface].writer(  # type: ignore[index]
        SURFACES[surface].parse(_minimal(surface)),
        "public-model",  # type: ignore[index]
    )
    raw = writer.head() + b"".join(_relay(kind, writer.write, writer.tail))
    text, calls, output = Client.streamed(surface, raw)
    assert (text, calls) == expected
    assert output == KINDS[kind].read_answer(_answer(kind)).usage.completion_tokens  # type: ignore[union-attr]


def _minimal(surface: str) -> dict[str, Any]:
    if surface == "anthropic.messages":
        return {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    if surface == "openai.responses":
        return {"model": "m", "input": "x", "stream": True}
    return {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_passed_through_stream_is_the_upstreams_own_but_for_the_model(kind: str) -> None:
    surface = SURFACES[SURFACE_OF_KIND[kind]]  # type: ignore[index]
    writer = surface.passthrough_writer(surface.parse(_minimal(surface.name)), "public-model")
    raw = b"".join(writer.write(e, orjson.dumps(e)) for e in _stream(kind))
    text, calls, output = Client.streamed(surface.name, raw + writer.tail(Usage()))
    answer = KINDS[kind].read_answer(_answer(kind))
    assert (text, calls) == _seen(answer)
    assert b'"model":"public-model"' in raw
    for upstream_model in (b"gpt-4o-mini", b"claude-sonnet-4-5", b"gpt-5.1-codex"):
        assert upstream_model not in raw
    assert output == answer.usage.completion_tokens  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("openai-chat", Usage(82, 18, 64, 0, 0)),
        ("anthropic", Usage(472 + 1024 + 2048, 89, 2048, 1024, 24)),
        ("openai-responses", Usage(1830, 95, 1536, 0, 64)),
    ],
)
def test_usage_is_read_in_one_meaning_from_every_kind(kind: str, expected: Usage) -> None:
    """Ours: prompt tokens count every input token, cache reads and writes included;
    reasoning tokens are part of the output. Anthropic's input_tokens leave both cache parts
    out, so they are added back."""
    assert KINDS[kind].read_answer(_answer(kind)).usage == expected
    reader, seen = KINDS[kind].reader(), None
    for event in _stream(kind):
        for ours in reader.feed(event):
            seen = ours.usage if isinstance(ours, UsageSeen) else seen
    assert seen is not None
    assert (seen.prompt_tokens, seen.completion_tokens, seen.cache_read_tokens) == (
        expected.prompt_tokens,
        expected.completion_tokens,
        expected.cache_read_tokens,
    )
