"""A tired or hostile operator at billing's admin API: amounts past the stated maximums, money
written loosely, fields past their limits, booleans that are strings, a reused idempotency
key. Each is a 400 (or a 409) naming the field, in the API's shape; none is a 500, and
none reaches billing's log to jam it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from schemas.limits import IDEMPOTENCY_KEY_MAX, NAME_MAX, ROTATION_OVERLAP_MAX_S
from tests.integration.harness import ADMIN_TOKEN
from tests.processes import ServiceProcess

pytestmark = pytest.mark.integration


def _client(billing: ServiceProcess) -> httpx.AsyncClient:
    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    return httpx.AsyncClient(base_url=billing.url, headers=auth, timeout=30)


def _refused(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = dict(response.json()["error"])
    assert error["param"] == param and error["request_id"] == response.headers["x-request-id"]
    return error


async def _account(http: httpx.AsyncClient) -> str:
    created = await http.post("/v1/accounts", json={"name": "Careful Co"})
    assert created.status_code == 201, created.text
    return str(created.json()["account_id"])


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        ("10000000000", "at most"),  # ten billion USD: past the largest single top-up
        ("1e21", "not an amount"),
        ("1_000", "not an amount"),
        ("1e3", "not an amount"),
        (" 12 34", "not an amount"),
        (10.5, "not a JSON number"),
        (True, "string"),
        ("0.0000000001", "not an amount"),
    ],
)
async def test_top_ups_past_the_maximum_or_loosely_written_are_400s(
    billing: ServiceProcess, amount: Any, why: str
) -> None:
    async with _client(billing) as http:
        account = await _account(http)
        answer = await http.post(f"/v1/accounts/{account}/top-ups", json={"amount_usd": amount})
        assert why in _refused(answer, 400, "amount_usd")["message"]


async def test_adjustments_fields_and_keys_are_checked_against_one_set_of_limits(
    billing: ServiceProcess,
) -> None:
    async with _client(billing) as http:
        account = await _account(http)
        adjust = f"/v1/accounts/{account}/adjustments"
        _refused(
            await http.post(adjust, json={"amount_usd": "-9000000000", "reason": "x"}),
            400,
            "amount_usd",
        )
        _refused(
            await http.post(adjust, json={"amount_usd": "-1", "reason": "x", "refund": "no"}),
            400,
            "refund",
        )
        _refused(await http.post(adjust, json={"amount_usd": "-1", "reason": ""}), 400, "reason")
        _refused(await http.post(adjust, json={"amount_usd": "-1"}), 400, "reason")
        long_name = "n" * (NAME_MAX + 1)
        _refused(await http.post("/v1/accounts", json={"name": long_name}), 400, "name")
        _refused(await http.post("/v1/accounts", json={"name": "a\x1b[2Jb"}), 400, "name")
        _refused(await http.post("/v1/accounts", json={"name": "x", "colour": 1}), 400, "colour")
        keys = f"/v1/accounts/{account}/keys"
        _refused(await http.post(keys, json={"name": "k" * 300}), 400, "name")
        key = (await http.post(keys, json={"name": "ok"})).json()["key_id"]
        rotate = f"/v1/keys/{key}/rotate"
        too_long = {"overlap_seconds": ROTATION_OVERLAP_MAX_S + 1}
        _refused(await http.post(rotate, json=too_long), 400, "overlap_seconds")
        _refused(await http.post(rotate, json={"overlap_seconds": 1e12}), 400, "overlap_seconds")
        # The documented longest idempotency key works; one longer does not.
        top_up = f"/v1/accounts/{account}/top-ups"
        longest = "k" * IDEMPOTENCY_KEY_MAX
        done = await http.post(top_up, json={"amount_usd": "10", "idempotency_key": longest})
        assert done.status_code == 201, done.text
        too_long_key = {"amount_usd": "10", "idempotency_key": longest + "k"}
        _refused(await http.post(top_up, json=too_long_key), 400, "idempotency_key")


async def test_an_idempotency_key_reused_for_another_amount_is_a_409(
    billing: ServiceProcess,
) -> None:
    async with _client(billing) as http:
        account = await _account(http)
        top_up = f"/v1/accounts/{account}/top-ups"
        first = await http.post(top_up, json={"amount_usd": "10", "idempotency_key": "pay-1"})
        again = await http.post(top_up, json={"amount_usd": "10", "idempotency_key": "pay-1"})
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json()["outcome"] == "duplicate"
        other = await http.post(top_up, json={"amount_usd": "25", "idempotency_key": "pay-1"})
        assert _refused(other, 409, None)["code"] == "idempotency_conflict"
        balance = await http.get(f"/v1/accounts/{account}/balance")
        assert balance.json()["balance_nano"] == 9_500_000_000  # one top-up, its fee taken


async def test_create_then_top_up_at_once_always_finds_the_account(
    billing: ServiceProcess,
) -> None:
    """What the README's quickstart does: the create answers once the account is readable."""
    async with _client(billing) as http:
        for _ in range(25):
            account = await _account(http)
            done = await http.post(f"/v1/accounts/{account}/top-ups", json={"amount_usd": "10"})
            assert done.status_code == 201, done.text


async def test_metering_refuses_periods_past_its_range_with_a_400(
    metering: ServiceProcess,
) -> None:
    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=metering.url, headers=auth, timeout=30) as http:
        for query in ({"to": "0001-01-02"}, {"from": "9999-12-31"}, {"to": "not-a-date"}):
            answer = await http.get("/v1/usage/acc_x", params=query)
            assert answer.status_code == 400, answer.text
            assert answer.json()["error"]["param"] == next(iter(query))
