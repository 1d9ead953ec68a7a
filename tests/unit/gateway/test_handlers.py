"""The model-calling handler, failover and stream relay, in process, against a fake
upstream and a fake event log (``service_layer/ports.py``): what the client gets and the
two events every request writes, on every way a call can end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from schemas.events import AccountStatusChanged, Event, RequestCompleted, RequestStarted
from services.gateway.domain.catalog import Catalog, Deployment, parse
from services.gateway.domain.protocols.surfaces import SURFACES
from services.gateway.domain.ratelimit import RateLimiter
from services.gateway.domain.standing import AccountStore, KeyStore, Principal
from services.gateway.errors import BadRequest, UpstreamError, UpstreamTimeout
from services.gateway.service_layer.context import Deps
from services.gateway.service_layer.handlers import Routing, call_model
from services.gateway.service_layer.ports import Broken, Rejected, Retryable, UpstreamRequest

CALLER = Principal(key_id="key1", account_id="acc1")


def _catalog() -> Catalog:
    dep = {"base_url": "http://u/v1", "upstream_model": "up-m"}
    return parse(
        {
            "models": [
                {
                    "id": "m",
                    "prices": {"input": "1", "output": "2"},
                    "deployments": [{**dep, "name": "first"}, {**dep, "name": "second"}],
                }
            ]
        }
    )


def _answer(text: str = "hello there") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "up-m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: bool = False) -> bytes:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "up-m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        chunk |= {"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 2}}
    return orjson.dumps(chunk)


class FakeStream:
    def __init__(self, batches: list[list[bytes]], broken_after: int | None = None) -> None:
        self._batches, self._broken_after, self.closed = batches, broken_after, False

    async def batches(self) -> AsyncIterator[list[bytes]]:
        for i, batch in enumerate(self._batches):
            if i == self._broken_after:
                raise Broken("connection reset")
            yield batch

    async def close(self) -> None:
        self.closed = True


class FakeUpstream:
    """Each deployment answers with the next of its scripted outcomes: a dict or a stream,
    or an exception raised."""

    def __init__(self, **outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.calls: list[tuple[str, UpstreamRequest]] = []

    def _next(self, deployment: Deployment, request: UpstreamRequest) -> Any:
        self.calls.append((deployment.name, request))
        outcome = self.outcomes[deployment.name].pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def complete(self, deployment: Deployment, request: UpstreamRequest) -> dict[str, Any]:
        answer: dict[str, Any] = self._next(deployment, request)
        return answer

    async def stream(self, deployment: Deployment, request: UpstreamRequest) -> FakeStream:
        stream: FakeStream = self._next(deployment, request)
        return stream

    async def close(self) -> None:
        pass


class FakeEvents:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event, key: str) -> int:
        self.events.append(event)
        return len(self.events)

    def backlog_age(self) -> float:
        return 0.0

    def completed(self) -> RequestCompleted:
        (started,) = [e for e in self.events if isinstance(e, RequestStarted)]
        (done,) = [e for e in self.events if isinstance(e, RequestCompleted)]
        assert done.request_id == started.request_id == "req_1"
        return done


def _deps(upstream: FakeUpstream, events: FakeEvents) -> Deps:
    accounts = AccountStore()
    accounts.apply(
        AccountStatusChanged(
            account_id="acc1",
            name="a",
            status="active",
            sequence=1,
            balance_nano=10**12,
            held_nano=0,
            available_nano=10**12,
            month_tokens=0,
        )
    )
    return Deps(
        catalog=_catalog(),
        keys=KeyStore(),
        accounts=accounts,
        limiter=RateLimiter(),
        upstream=upstream,
        events=events,
    )


async def _chat(upstream: FakeUpstream, events: FakeEvents, **body: Any) -> Any:
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **body}
    deps = _deps(upstream, events)
    return await call_model(deps, CALLER, "req_1", Routing(), request, SURFACES["openai.chat"])


async def test_an_answer_is_rendered_and_charged_as_the_upstream_counted_it() -> None:
    upstream, events = FakeUpstream(first=[_answer()]), FakeEvents()
    answered = await _chat(upstream, events)
    answer = orjson.loads(orjson.dumps(answered.body))
    assert answer["model"] == "m" and answer["choices"][0]["message"]["content"] == "hello there"
    # 11 prompt tokens at 1 USD and 3 completion tokens at 2 USD per 1M: billing's charge.
    assert answered.cost_nano == 11 * 1_000 + 3 * 2_000
    assert b'"cost":0.000017000' in orjson.dumps(answered.body)
    ((name, request),) = upstream.calls
    assert name == "first" and request.body["model"] == "up-m" and request.body["max_tokens"]
    done = events.completed()
    assert (done.status, done.http_status, done.deployment) == ("succeeded", 200, "first")
    assert (done.prompt_tokens, done.completion_tokens, done.usage_source) == (11, 3, "upstream")


async def test_a_failing_deployment_fails_over_to_the_next() -> None:
    upstream = FakeUpstream(first=[Retryable("503 from upstream")], second=[_answer()])
    events = FakeEvents()
    await _chat(upstream, events)
    assert [name for name, _ in upstream.calls] == ["first", "second"]
    assert events.completed().deployment == "second"


async def test_when_every_deployment_fails_the_request_fails_uncharged() -> None:
    upstream = FakeUpstream(
        first=[Retryable("503")], second=[Retryable("read timed out", timeout=True)]
    )
    events = FakeEvents()
    with pytest.raises(UpstreamTimeout):
        await _chat(upstream, events)
    done = events.completed()
    assert (done.status, done.http_status, done.error_code) == ("failed", 504, "upstream_timeout")
    assert done.prompt_tokens == done.completion_tokens == 0
    upstream = FakeUpstream(first=[Retryable("503")], second=[Retryable("503")])
    with pytest.raises(UpstreamError):
        await _chat(upstream, FakeEvents())


async def test_a_request_the_upstream_rejects_is_not_tried_elsewhere() -> None:
    upstream = FakeUpstream(first=[Rejected(422, "bad tool schema", "tools")], second=[])
    events = FakeEvents()
    with pytest.raises(BadRequest) as refused:
        await _chat(upstream, events)
    assert (refused.value.status, refused.value.param) == (422, "tools")
    assert [name for name, _ in upstream.calls] == ["first"]
    assert events.completed().status == "failed"


async def test_an_unreadable_answer_is_a_502_and_charges_nothing() -> None:
    upstream, events = FakeUpstream(first=[{"choices": "nonsense"}]), FakeEvents()
    with pytest.raises(UpstreamError, match="cannot read"):
        await _chat(upstream, events)
    done = events.completed()
    assert (done.http_status, done.completion_tokens) == (502, 0)


async def test_a_stream_is_relayed_and_its_usage_recorded() -> None:
    stream = FakeStream(
        [
            [_chunk({"role": "assistant", "content": "Hel"})],
            [_chunk({"content": "lo"}), _chunk({}, "stop")],
            [_chunk({}, usage=True), b"[DONE]"],
        ]
    )
    upstream, events = FakeUpstream(first=[stream]), FakeEvents()
    relayed = await _chat(upstream, events, stream=True, stream_options={"include_usage": True})
    body = b"".join([part async for part in relayed]).decode()
    datas = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
    assert datas[-1] == "[DONE]"
    chunks = [orjson.loads(d) for d in datas[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hello" and chunks[-1]["usage"]["completion_tokens"] == 2
    # The stream's usage says what it cost, as billing charges it: 11 in at 1, 2 out at 2.
    assert '"cost":0.000015000' in body
    assert {c["model"] for c in chunks} == {"m"} and stream.closed
    done = events.completed()
    assert (done.status, done.completion_tokens, done.usage_source) == ("succeeded", 2, "upstream")
    assert done.finish_reason == "stop"


async def test_a_stream_broken_midway_ends_with_an_error_and_charges_what_was_sent() -> None:
    stream = FakeStream(
        [[_chunk({"role": "assistant", "content": "Hello there friend"})], []], broken_after=1
    )
    upstream, events = FakeUpstream(first=[stream]), FakeEvents()
    relayed = await _chat(upstream, events, stream=True)
    body = b"".join([part async for part in relayed]).decode()
    assert "Hello there friend" in body and "upstream stream ended early" in body
    assert stream.closed
    done = events.completed()
    assert (done.status, done.http_status, done.usage_source) == ("failed", 502, "estimated")
    assert done.completion_tokens > 0  # what the client got is charged, as estimated
