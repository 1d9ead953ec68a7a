"""Dialects other gateways and providers speak, each a catalog or settings option: vendor
prefixes on model ids, upstreams that report their model as "redacted", requests without a
model, legacy completions' defaults and token-id prompts, another vendor's ZDR header."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.integration.harness import EventTap, Provisioner, openai_client
from tests.processes import ServiceProcess

pytestmark = pytest.mark.integration

ASK = [{"role": "user", "content": "Hi"}]


async def test_vendor_prefixed_ids_and_a_redacted_upstream_model(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    client = openai_client(gateway, tenant.secret)
    for asked in ("acme/redacted-model", "redacted-model"):
        raw = await client.chat.completions.with_raw_response.create(model=asked, messages=ASK)  # type: ignore[arg-type]
        assert raw.parse().model == asked  # never the upstream's "redacted"
        started, completed = await tap.both(raw.headers["x-request-id"])
        assert started.model == "redacted-model" and completed.completion_tokens == 12
    stream = await client.chat.completions.create(
        model="acme/redacted-model", messages=ASK, stream=True
    )  # type: ignore[arg-type]
    assert {chunk.model async for chunk in stream} == {"acme/redacted-model"}
    listed = await client.models.retrieve("acme/redacted-model")
    assert listed.id == "acme/redacted-model" and listed.owned_by == "acme"


async def test_a_request_without_a_model_goes_to_the_default_group(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        auth = {"authorization": f"Bearer {tenant.secret}"}
        chosen = {}
        for preference in ("powerful", "efficient"):
            answer = await http.post(
                "/v1/chat/completions",
                json={"messages": ASK, "router_preference": preference},
                headers=auth,
            )
            assert answer.status_code == 200 and answer.json()["model"] == "tollway-auto"
            started, _ = await tap.both(answer.headers["x-request-id"])
            chosen[preference] = started.model
    assert chosen == {"powerful": "sim-large", "efficient": "sim-small"}


async def test_completions_default_to_16_tokens_and_take_token_ids(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    client = openai_client(gateway, tenant.secret)
    raw = await client.completions.with_raw_response.create(model="sim-small", prompt="Once")
    started, _ = await tap.both(raw.headers["x-request-id"])
    assert started.max_tokens == 16  # OpenAI's default, and what the hold covers
    ids = await client.completions.create(model="sim-small", prompt=[9906, 1917, 0], max_tokens=3)
    assert ids.usage is not None and ids.usage.prompt_tokens == 3
    with pytest.raises(openai.BadRequestError) as translated:
        await client.completions.create(model="claude-native", prompt=[9906, 1917])
    assert translated.value.body["param"] == "prompt"  # type: ignore[index]


async def test_another_vendors_zdr_header_routes_as_ours_does(
    gateway: ServiceProcess, provision: Provisioner, tap: EventTap
) -> None:
    tenant = await provision.tenant()
    client = openai_client(gateway, tenant.secret)
    for _ in range(3):
        raw = await client.chat.completions.with_raw_response.create(
            model="sim-small",
            messages=ASK,
            extra_headers={"Wafer-ZDR": "required"},  # type: ignore[arg-type]
        )
        started, _ = await tap.both(raw.headers["x-request-id"])
        assert started.deployment == "sim-small-zdr"
    bad: dict[str, Any] = {"Wafer-ZDR": "sometimes"}
    with pytest.raises(openai.BadRequestError) as refused:
        await client.chat.completions.create(model="sim-small", messages=ASK, extra_headers=bad)  # type: ignore[arg-type]
    assert refused.value.body["param"] == "wafer-zdr"  # type: ignore[index]
