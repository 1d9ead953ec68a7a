"""Every row of the error table, in OpenAI shape with a request_id; admission from Kafka state."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from schemas.topics import API_KEYS
from tests.integration.harness import EventTap, Provisioner, key_record, publish
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration

CHAT = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


def _assert_error(
    response: httpx.Response, status: int, code: str, param: str | None = None
) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert set(error) >= {"message", "type", "code", "param"} and error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    if param is not None:
        assert error["param"] == param


async def _post(
    gateway: ServiceProcess,
    secret: str | None,
    body: Any = CHAT,
    path: str = "/v1/chat/completions",
    **kwargs: Any,
) -> httpx.Response:
    headers = {"authorization": f"Bearer {secret}"} if secret else {}
    headers |= kwargs.pop("headers", {})
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        if isinstance(body, bytes | str):
            return await client.post(path, content=body, headers=headers, **kwargs)
        return await client.post(path, json=body, headers=headers, **kwargs)


async def test_authentication_errors(gateway: ServiceProcess) -> None:
    _assert_error(await _post(gateway, None), 401, "invalid_api_key")
    _assert_error(await _post(gateway, "tw_not_a_real_key_at_all"), 401, "invalid_api_key")
    _assert_error(
        await _post(gateway, None, headers={"authorization": "Basic abc"}), 401, "invalid_api_key"
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**CHAT, "temperature": 5}, "temperature"),
        ({**CHAT, "top_p": -0.1}, "top_p"),
        ({**CHAT, "max_tokens": -1}, "max_tokens"),
        ({**CHAT, "model": "sim-strict", "max_tokens": 65}, "max_tokens"),
        ({**CHAT, "model": "sim-strict", "max_completion_tokens": 65}, "max_completion_tokens"),
        ({**CHAT, "stream": "false"}, "stream"),
        (
            {**CHAT, "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
            "messages.0.content.0.text",
        ),
        ({**CHAT, "n": "two"}, "n"),
        ({**CHAT, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({**CHAT, "messages": []}, "messages"),
        ({**CHAT, "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({**CHAT, "stream_options": {"include_usage": True}}, "stream_options"),
        ({**CHAT, "tool_choice": "sometimes"}, "tool_choice"),
        ({**CHAT, "response_format": {"type": "yaml"}}, "response_format.type"),
        ({**CHAT, "top_logprobs": 3}, "top_logprobs"),
        ({**CHAT, "model": "no-tools", "stream": True}, "stream"),
        (
            {
                **CHAT,
                "model": "no-tools",
                "tools": [{"type": "function", "function": {"name": "f"}}],
            },
            "tools",
        ),
    ],
)
async def test_bad_parameters_name_the_param(
    gateway: ServiceProcess, provision: Provisioner, body: dict[str, Any], param: str
) -> None:
    tenant = await provision.tenant()
    _assert_error(await _post(gateway, tenant.secret, body), 400, "invalid_request_error", param)


async def test_bad_bodies_and_routes(gateway: ServiceProcess, provision: Provisioner) -> None:
    tenant = await provision.tenant()
    _assert_error(await _post(gateway, tenant.secret, b"{not json"), 400, "invalid_request_error")
    _assert_error(
        await _post(gateway, tenant.secret, b"\xff\xfe\x00"), 400, "invalid_request_error"
    )
    _assert_error(await _post(gateway, tenant.secret, b"[1, 2]"), 400, "invalid_request_error")
    _assert_error(
        await _post(gateway, tenant.secret, {**CHAT, "model": "nope"}),
        404,
        "model_not_found",
        "model",
    )
    huge = {**CHAT, "messages": [{"role": "user", "content": "x" * 300_000}]}
    _assert_error(await _post(gateway, tenant.secret, huge), 413, "request_too_large")
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        _assert_error(await client.get("/v1/chat/completions"), 405, "invalid_http_method")
        wrong = await client.delete("/v1/messages")  # Anthropic's surface, Anthropic's shape
        assert wrong.status_code == 405 and wrong.json()["type"] == "error"
        assert wrong.json()["error"]["code"] == "invalid_http_method"
        assert wrong.json()["request_id"] == wrong.headers["x-request-id"]
        _assert_error(await client.get("/v1/nothing-here"), 404, "not_found")
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("status", "http", "code"),
    [
        ("insufficient_balance", 402, "insufficient_balance"),
        ("suspended", 403, "account_disabled"),
        ("quota_exceeded", 429, "quota_exceeded"),
    ],
)
async def test_account_status_refuses_with_its_error(
    gateway: ServiceProcess,
    provision: Provisioner,
    tap: EventTap,
    status: str,
    http: int,
    code: str,
) -> None:
    tenant = await provision.tenant()
    await provision.set_status(tenant, status)
    response = await _post(gateway, tenant.secret)
    _assert_error(response, http, code)
    assert response.headers["x-request-id"] not in tap.by_request  # refused: nothing to charge
    await provision.set_status(tenant, "active")
    assert (await _post(gateway, tenant.secret)).status_code == 200


async def test_sdk_raises_402_with_insufficient_balance(
    gateway: ServiceProcess, provision: Provisioner
) -> None:
    tenant = await provision.tenant(status="insufficient_balance")
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0)
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(
            model="sim-small", messages=[{"role": "user", "content": "x"}]
        )
    assert raised.value.status_code == 402 and raised.value.code == "insufficient_balance"
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.get(
            "/v1/balance", headers={"authorization": f"Bearer {tenant.secret}"}
        )
    balance = response.json()
    assert balance["status"] == "insufficient_balance" and balance["balance"] == "10.000000000"


async def test_revoked_key_stops_working_within_a_second(
    kafka_bootstrap: str, gateway: ServiceProcess, provision: Provisioner
) -> None:
    tenant = await provision.tenant()
    assert (await _post(gateway, tenant.secret)).status_code == 200
    revoked_at = time.monotonic()
    await publish(kafka_bootstrap, API_KEYS.name, tenant.key_id, key_record(tenant, "revoked"))

    async def probe() -> int:
        return (await _post(gateway, tenant.secret)).status_code

    await eventually(probe, lambda s: s == 401, timeout=5, interval=0.02, what="revocation")
    assert time.monotonic() - revoked_at < 1.0


async def test_request_rate_limit_answers_429_with_retry_after(
    gateway: ServiceProcess, provision: Provisioner
) -> None:
    tenant = await provision.tenant(requests_per_minute=3)
    codes = [(await _post(gateway, tenant.secret)).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    limited = await _post(gateway, tenant.secret)
    _assert_error(limited, 429, "rate_limit_exceeded")
    assert 1 <= int(limited.headers["retry-after"]) <= 20


async def test_token_rate_limit(gateway: ServiceProcess, provision: Provisioner) -> None:
    tenant = await provision.tenant(tokens_per_minute=60)
    assert (await _post(gateway, tenant.secret)).status_code == 200  # uses ~10 + 3 tokens
    long = {**CHAT, "messages": [{"role": "user", "content": "word " * 200}]}
    _assert_error(await _post(gateway, tenant.secret, long), 429, "rate_limit_exceeded")


async def test_readyz_and_balance(gateway: ServiceProcess, provision: Provisioner) -> None:
    tenant = await provision.tenant()
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        ready = (await client.get("/readyz")).json()
        assert ready["ready"] is True and ready["keys"] >= 1
        balance = (
            await client.get("/v1/balance", headers={"authorization": f"Bearer {tenant.secret}"})
        ).json()
        assert balance["account_id"] == tenant.account_id and balance["available_nano"] == 10**10
        _assert_error(await client.get("/v1/balance"), 401, "invalid_api_key")
