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


def _whoami(status: int, body: object) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/whoami"
        assert request.headers["authorization"] == "Bearer gateway-token"
        return httpx.Response(status, json=body)

    return httpx.MockTransport(answer)


async def test_at_startup_a_token_that_can_move_money_is_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scopes = ["finance", "operator", "support"]
    with caplog.at_level(logging.WARNING, "tollway.gateway.reports"):
        said = await _reports(_whoami(200, {"name": "env", "scopes": scopes})).check_token()
    assert said and "operator scope" in said and "TOLLWAY_GATEWAY_TOKEN" in said
    assert said in caplog.text


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (401, {"error": {"code": "invalid_admin_token"}}, "refused the gateway's token (401)"),
        (200, {"name": "gw", "scopes": []}, "cannot read usage (scopes: none)"),
    ],
)
async def test_at_startup_a_token_that_cannot_read_usage_is_an_error(
    status: int, body: object, words: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "tollway.gateway.reports"):
        said = await _reports(_whoami(status, body)).check_token()
    assert said and words in said and said in caplog.text


async def test_at_startup_a_support_token_is_fine_once_metering_answers() -> None:
    calls = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] < 3:  # metering still starting
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"name": "gateway", "scopes": ["support"]})

    reports = _reports(httpx.MockTransport(answer))
    assert await reports.check_token(every_s=0) is None
    assert calls["n"] == 3
    calls["n"] = -100  # never answers within the attempts: nothing to say, no error
    assert await reports.check_token(every_s=0, attempts=5) is None
