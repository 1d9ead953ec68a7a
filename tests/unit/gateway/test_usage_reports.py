"""GET /v1/usage's client for metering: what each metering answer becomes for the key holder."""

from __future__ import annotations

import logging

import httpx
import pytest

from services.gateway.adapters.reports import UsageReports
from services.gateway.errors import BadRequest, UsageUnavailable


def _reports(handler: httpx.MockTransport) -> UsageReports:
    return UsageReports("http://metering", "gateway-token", transport=handler)


async def test_asks_for_the_given_account_with_the_gateways_token() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"account_id": "acc_1", "data": [{"requests": 2}]})

    body = await _reports(httpx.MockTransport(answer)).usage("acc_1", {"from": "2026-11-01"})
    assert body["data"] == [{"requests": 2}]
    assert seen[0].url.path == "/v1/usage/acc_1"
    assert seen[0].url.params["from"] == "2026-11-01"
    assert seen[0].headers["authorization"] == "Bearer gateway-token"


async def test_a_bad_period_is_the_callers_400_naming_the_param() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        error = {"message": "'from' must be before 'to'.", "param": "from"}
        return httpx.Response(400, json={"error": error})

    with pytest.raises(BadRequest) as raised:
        await _reports(httpx.MockTransport(answer)).usage("acc_1", {})
    assert raised.value.param == "from" and "before" in raised.value.message


@pytest.mark.parametrize("status", [401, 500, 502])
async def test_metering_failures_are_503_with_retry_after(status: int) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="nope")

    with pytest.raises(UsageUnavailable) as raised:
        await _reports(httpx.MockTransport(answer)).usage("acc_1", {})
    assert raised.value.status == 503 and raised.value.headers["Retry-After"] == "5"


async def test_unreachable_metering_is_503() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(UsageUnavailable) as raised:
        await _reports(httpx.MockTransport(answer)).usage("acc_1", {})
    assert "unreachable" in raised.value.message


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_token_is_logged_for_the_operator_naming_the_setting(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"code": "insufficient_scope"}})

    with caplog.at_level(logging.ERROR, "tollway.gateway.reports"), pytest.raises(UsageUnavailable):
        await _reports(httpx.MockTransport(answer)).usage("acc_1", {})
    assert "TOLLWAY_GATEWAY_TOKEN" in caplog.text and "support scope" in caplog.text
    assert "gateway-token" not in caplog.text  # the token itself never
