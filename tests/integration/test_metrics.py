"""Every service serves Prometheus text at /metrics to an admin token (one with the support
scope only will do; the gateway takes its own), and its series move
when a request is served: the gateway's requests and refusals, billing's applied events,
metering's rows, the dispatcher's work list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.billing.test_money_path import funded
from tests.integration.harness import SUPPORT_TOKEN
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration

AUTH = {"authorization": f"Bearer {SUPPORT_TOKEN}"}


async def _scrape(service: ServiceProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient(timeout=30) as http:
        reply = await http.get(service.url + "/metrics", headers=AUTH)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def _value(scraped: dict[Any, float], name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_each_service_counts_a_served_request(
    billing: ServiceProcess,
    gateway: ServiceProcess,
    metering: ServiceProcess,
    dispatcher: ServiceProcess,
) -> None:
    _, secret = funded(billing, "Observed", "10")
    ok = {"surface": "openai.chat", "model": "sim-small", "status": "succeeded"}
    before = {s: await _scrape(s) for s in (gateway, billing, metering)}
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        chat = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]}
        await eventually(
            lambda: http.post(
                "/v1/chat/completions", json=chat, headers={"authorization": f"Bearer {secret}"}
            ),
            lambda r: r.status_code == 200,
            what="a served request",
        )
        wrong = await http.post(
            "/v1/chat/completions", json=chat, headers={"authorization": "Bearer tw_nope"}
        )
        assert wrong.status_code == 401
        assert (await http.get("/metrics")).status_code == 401  # not without the token

    after = await _scrape(gateway)
    served = "tollway_gateway_requests_total"
    assert _value(after, served, **ok, http_status="200") > _value(
        before[gateway], served, **ok, http_status="200"
    )
    refused = "tollway_gateway_refusals_total"
    assert _value(after, refused, code="invalid_api_key") > _value(
        before[gateway], refused, code="invalid_api_key"
    )
    upstream = "tollway_gateway_upstream_seconds_count"
    assert _value(after, upstream, deployment="sim-small-a") > 0
    assert ("tollway_gateway_events_queued", ()) in after
    overhead = "tollway_gateway_overhead_seconds_count"
    assert _value(after, overhead, surface="openai.chat") > _value(
        before[gateway], overhead, surface="openai.chat"
    )

    applied = "tollway_billing_events_applied_total"
    await eventually(
        lambda: _scrape(billing),
        lambda s: _value(s, applied) >= _value(before[billing], applied) + 2,
        what="billing applied the request's events",
    )
    rows = "tollway_metering_rows_written_total"
    await eventually(
        lambda: _scrape(metering),
        lambda s: (
            _value(s, rows, table="request_events")
            >= _value(before[metering], rows, table="request_events") + 2
        ),
        what="metering wrote the request's rows",
    )
    assert ("tollway_dispatcher_pending", ()) in await _scrape(dispatcher)
    async with httpx.AsyncClient() as http:
        assert (await http.get(billing.url + "/metrics")).status_code == 401
