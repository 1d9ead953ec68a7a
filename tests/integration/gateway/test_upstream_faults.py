"""Upstream failures: failover, errors that say what happened, and events that record it."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from tests.integration.harness import EventTap, Provisioner, openai_client
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration

ASK = [{"role": "user", "content": "hello"}]


async def test_connection_refused_fails_over_to_the_next_deployment(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    raw = await openai_client(gateway, tenant.secret).chat.completions.with_raw_response.create(
        model="flaky", messages=ASK, extra_headers={"x-tollway-router-preference": "powerful"}
    )
    assert raw.parse().choices[0].message.content
    started, completed = await tap.both(raw.headers["x-request-id"])
    assert started.deployment == "flaky-dead" and completed.deployment == "flaky-live"


async def test_upstream_5xx_fails_over_then_errors_when_all_fail(
    gateway: ServiceProcess,
    provision: Provisioner,
    tap: EventTap,
    sim_reset: httpx.AsyncClient,
) -> None:
    tenant = await provision.tenant()
    client = openai_client(gateway, tenant.secret)
    await sim_reset.post(
        "/_sim/faults", json={"mode": "status", "status": 503, "model": "sim-small", "count": 1}
    )
    raw = await client.chat.completions.with_raw_response.create(
        model="sim-small", messages=ASK, extra_headers={"x-tollway-router-preference": "efficient"}
    )
    _, completed = await tap.both(raw.headers["x-request-id"])
    assert completed.deployment == "sim-small-zdr" and completed.status == "succeeded"

    await sim_reset.post("/_sim/faults", json={"mode": "status", "status": 500})
    with pytest.raises(openai.APIStatusError) as raised:
        await client.chat.completions.with_raw_response.create(model="sim-large", messages=ASK)
    assert raised.value.status_code == 502 and raised.value.code == "upstream_error"
    request_id = raised.value.response.headers["x-request-id"]
    assert raised.value.body["request_id"] == request_id  # type: ignore[index]
    _, failed = await tap.both(request_id)
    assert (failed.status, failed.http_status, failed.error_code) == (
        "failed",
        502,
        "upstream_error",
    )
    assert (failed.prompt_tokens, failed.completion_tokens) == (0, 0)  # nothing to charge


async def test_upstream_timeout_is_a_504(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap, sim_reset: httpx.AsyncClient
) -> None:
    tenant = await provision.tenant()
    await sim_reset.post(
        "/_sim/faults", json={"mode": "timeout", "hang_seconds": 5, "model": "sim-slow"}
    )
    with pytest.raises(openai.APIStatusError) as raised:
        await openai_client(gateway, tenant.secret).chat.completions.create(
            model="slow", messages=ASK
        )
    assert raised.value.status_code == 504 and raised.value.code == "upstream_timeout"
    _, failed = await tap.both(raised.value.response.headers["x-request-id"])
    assert failed.error_code == "upstream_timeout"


async def test_stream_dropped_midway_ends_with_an_error_and_records_what_was_sent(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap, sim_reset: httpx.AsyncClient
) -> None:
    tenant = await provision.tenant()
    await sim_reset.post("/_sim/faults", json={"mode": "drop", "after_chunks": 4})
    raw = await openai_client(gateway, tenant.secret).chat.completions.with_raw_response.create(
        model="sim-large", messages=ASK, stream=True
    )
    received = ""
    with pytest.raises(openai.APIError, match="ended early"):
        async for chunk in raw.parse():
            received += chunk.choices[0].delta.content or "" if chunk.choices else ""
    _, failed = await tap.both(raw.headers["x-request-id"])
    assert (failed.status, failed.error_code, failed.usage_source) == (
        "failed",
        "upstream_error",
        "estimated",
    )
    assert failed.completion_tokens == 3 and received  # role chunk + 3 tokens were sent


async def test_client_disconnect_cancels_upstream_and_records_partial_usage(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap, sim_reset: httpx.AsyncClient
) -> None:
    tenant = await provision.tenant()
    await sim_reset.post("/_sim/faults", json={"mode": "slow", "token_delay_ms": 100})
    body = {"model": "sim-large", "messages": ASK, "stream": True}
    headers = {"authorization": f"Bearer {tenant.secret}"}
    async with (
        httpx.AsyncClient(base_url=gateway.url, timeout=10) as client,
        client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response,
    ):
        request_id = response.headers["x-request-id"]
        chunks = 0
        async for line in response.aiter_lines():
            chunks += line.startswith("data:")
            if chunks == 3:
                break  # leave mid-stream
    _, cancelled = await tap.both(request_id)
    assert (cancelled.status, cancelled.error_code) == ("cancelled", "client_closed")
    assert 1 <= cancelled.completion_tokens < 12 and cancelled.usage_source == "estimated"

    async def upstream_cancelled() -> int:
        return int((await sim_reset.get("/_sim/stats")).json()["streams_cancelled"])

    await eventually(upstream_cancelled, lambda n: n == 1, what="upstream stream cancelled")


async def test_zdr_header_routes_only_to_zdr_deployments(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    client = openai_client(gateway, tenant.secret)
    for _ in range(3):  # balanced routing would otherwise rotate over both deployments
        raw = await client.chat.completions.with_raw_response.create(
            model="sim-small", messages=ASK, extra_headers={"X-Tollway-ZDR": "required"}
        )
        started, _ = await tap.both(raw.headers["x-request-id"])
        assert started.deployment == "sim-small-zdr"
    with pytest.raises(openai.BadRequestError, match="zero-data-retention") as raised:
        await client.chat.completions.create(
            model="sim-large", messages=ASK, extra_headers={"X-Tollway-ZDR": "required"}
        )
    assert raised.value.body["param"] == "model"  # type: ignore[index]


async def test_router_preference_over_a_group(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    client = openai_client(gateway, tenant.secret)
    served = {}
    for preference in ("powerful", "efficient"):
        raw = await client.chat.completions.with_raw_response.create(
            model="tollway-auto", messages=ASK, extra_body={"router_preference": preference}
        )
        started, _ = await tap.both(raw.headers["x-request-id"])
        served[preference] = started.model
    assert served == {"powerful": "sim-large", "efficient": "sim-small"}
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(
            model="tollway-auto", messages=ASK, extra_body={"router_preference": "fastest"}
        )
    await asyncio.sleep(0)


async def _chat(gateway: ServiceProcess, secret: str, stream: bool) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        return await http.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {secret}"},
            json={"model": "sim-large", "messages": ASK, "max_tokens": 8, "stream": stream},
        )


@pytest.mark.parametrize("stream", [False, True])
async def test_odd_usage_and_finish_reason_are_counted_by_tokenizer_and_the_event_stays_valid(
    gateway: ServiceProcess,
    provision: Provisioner,
    tap: EventTap,
    sim_reset: httpx.AsyncClient,
    stream: bool,
) -> None:
    tenant = await provision.tenant()
    await sim_reset.post("/_sim/faults", json={"mode": "garbled", "model": "sim-large"})
    answer = await _chat(gateway, tenant.secret, stream)
    assert answer.status_code == 200
    if stream:
        assert answer.text.rstrip().endswith("data: [DONE]")
    # The tap decodes with the event schema: a finish_reason of 7 or "many" tokens would
    # fail here, as it would in billing and metering.
    _, completed = await tap.both(answer.headers["x-request-id"])
    assert completed.status == "succeeded" and completed.usage_source == "estimated"
    assert completed.finish_reason is None
    assert completed.prompt_tokens > 0 and completed.completion_tokens == 8


@pytest.mark.parametrize("stream", [False, True])
async def test_an_unreadable_answer_is_an_upstream_error_with_one_failed_event(
    gateway: ServiceProcess,
    provision: Provisioner,
    tap: EventTap,
    sim_reset: httpx.AsyncClient,
    stream: bool,
) -> None:
    tenant = await provision.tenant()
    await sim_reset.post("/_sim/faults", json={"mode": "unreadable", "model": "sim-large"})
    answer = await _chat(gateway, tenant.secret, stream)
    request_id = answer.headers["x-request-id"]
    if stream:  # the stream had begun: the error comes in it, then the stream ends
        assert answer.status_code == 200 and "upstream_error" in answer.text
        assert request_id in answer.text
    else:
        assert answer.status_code == 502
        assert answer.json()["error"]["code"] == "upstream_error"
        assert answer.json()["error"]["request_id"] == request_id
    _, completed = await tap.both(request_id)
    assert completed.status == "failed" and completed.error_code == "upstream_error"
    assert completed.http_status == 502
    if not stream:  # the client got nothing: nothing to charge
        assert completed.prompt_tokens == completed.completion_tokens == 0
