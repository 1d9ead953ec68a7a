"""A key holder's bodies with wrong types, in every surface: each is a 400 in the surface's
shape naming the parameter, and nothing reaches an upstream (what is forwarded is only ever
what was validated, so no upstream work goes uncharged). Huge texts are counted, not a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.harness import Provisioner, gateway_process
from tests.processes import ServiceProcess

pytestmark = pytest.mark.integration

USER = {"role": "user", "content": "Hi"}
CHAT = {"model": "sim-small", "max_tokens": 5, "messages": [USER]}
MESSAGES = {"model": "claude-native", "max_tokens": 5, "messages": [USER]}

# (path, body, the param the error must name, or a prefix of it)
WRONG_TYPES: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/chat/completions", {**CHAT, "stream": "false"}, "stream"),
    ("/v1/chat/completions", {**CHAT, "stream": "yes"}, "stream"),
    ("/v1/chat/completions", {**CHAT, "n": "2"}, "n"),
    ("/v1/chat/completions", {**CHAT, "max_tokens": 5.5}, "max_tokens"),
    (
        "/v1/chat/completions",
        {**CHAT, "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
        "messages",
    ),
    ("/v1/chat/completions", {**CHAT, "messages": [{"role": "user", "content": None}]}, "messages"),
    ("/v1/completions", {"model": "sim-small", "prompt": {"a": 1}}, "prompt"),
    ("/v1/responses", {"model": "sim-small", "input": 5}, "input"),
    ("/v1/responses", {"model": "sim-small", "input": "Hi", "stream": "true"}, "stream"),
    (
        "/v1/messages",
        {**MESSAGES, "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
        "messages",
    ),
    (
        "/v1/messages",
        {**MESSAGES, "messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]},
        "messages",
    ),
    (
        "/v1/messages",
        {
            **MESSAGES,
            "messages": [
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t1", "content": 3}],
                },
            ],
        },
        "messages",
    ),
    ("/v1/messages", {**MESSAGES, "stream": "false"}, "stream"),
    ("/v1/messages/count_tokens", {"model": "claude-native", "messages": 5}, "messages"),
]


async def _stats(simulator: ServiceProcess) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=simulator.url) as client:
        return dict((await client.get("/_sim/stats")).json())


@pytest.mark.parametrize(("path", "body", "param"), WRONG_TYPES)
async def test_a_wrong_type_is_a_400_naming_it_and_nothing_is_forwarded(
    gateway: ServiceProcess,
    simulator: ServiceProcess,
    provision: Provisioner,
    path: str,
    body: dict[str, Any],
    param: str,
) -> None:
    tenant = await provision.tenant()
    before = await _stats(simulator)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        response = await http.post(
            path, json=body, headers={"authorization": f"Bearer {tenant.secret}"}
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    request_id = response.headers["x-request-id"]
    if path.startswith("/v1/messages"):
        assert response.json()["type"] == "error" and error["type"] == "invalid_request_error"
        assert response.json()["request_id"] == request_id
        assert param in error["message"], error
    else:
        assert error["request_id"] == request_id
        assert (error["param"] or "").startswith(param), error
    assert (await _stats(simulator))["requests"] == before["requests"]


async def test_a_body_that_is_not_json_is_a_400(
    gateway: ServiceProcess, provision: Provisioner
) -> None:
    tenant = await provision.tenant()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        for path in ("/v1/chat/completions", "/v1/messages", "/v1/responses"):
            response = await http.post(
                path,
                content=b'{"model": "sim-small"}',
                headers={"authorization": f"Bearer {tenant.secret}", "content-type": "text/plain"},
            )
            assert response.status_code == 400, (path, response.text)
            assert "application/json" in response.json()["error"]["message"]


@pytest.fixture(scope="module")
def roomy(
    kafka_bootstrap: str, catalog_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """A gateway taking bodies of up to 8 MB (the tests' usual one stops at 256 KB)."""
    yield from gateway_process(
        kafka_bootstrap, catalog_file, tmp_path_factory, TOLLWAY_MAX_BODY_BYTES=str(8 << 20)
    )


async def test_a_text_of_millions_of_characters_is_counted_not_a_500(
    kafka_bootstrap: str, roomy: ServiceProcess
) -> None:
    tenant = await Provisioner(kafka_bootstrap, roomy).tenant()
    words = "lorem ipsum dolor sit amet " * 60_000  # 1.6M characters, ~300k tokens
    headers = {"x-api-key": tenant.secret, "anthropic-version": "2023-06-01"}
    async with httpx.AsyncClient(base_url=roomy.url, timeout=120) as http:
        counted = await http.post(
            "/v1/messages/count_tokens",
            json={"model": "sim-small", "messages": [{"role": "user", "content": words}]},
            headers=headers,
        )
    assert counted.status_code == 200, counted.text
    assert 200_000 < counted.json()["input_tokens"] < 400_000
