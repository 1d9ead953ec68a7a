"""Key rotation with an overlap, and price changes that never reprice the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.billing.test_money_path import tollway, tollway_fails
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration


async def _status(gateway: ServiceProcess, secret: str) -> int:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        return (
            await http.get("/v1/models", headers={"authorization": f"Bearer {secret}"})
        ).status_code


async def test_rotation_keeps_the_old_key_for_the_overlap_only(
    billing: ServiceProcess, gateway: ServiceProcess
) -> None:
    account = tollway(billing, "accounts", "create", "Rotator")["account_id"]
    tollway(billing, "topup", account, "10")
    old = tollway(billing, "keys", "create", account)
    await eventually(lambda: _status(gateway, old["secret"]), lambda s: s == 200, what="usable")
    rotated = tollway(billing, "keys", "rotate", old["key_id"], "--overlap", "3")
    assert rotated["old_key_id"] == old["key_id"] and rotated["secret"] != old["secret"]
    await eventually(
        lambda: _status(gateway, rotated["secret"]), lambda s: s == 200, what="the new key usable"
    )
    assert await _status(gateway, old["secret"]) == 200  # still inside the overlap
    expires = datetime.fromisoformat(rotated["old_key_expires_at"])
    await eventually(
        lambda: _status(gateway, old["secret"]),
        lambda s: s == 401,
        timeout=10,
        what="the old key refused after the overlap",
    )
    assert datetime.now(UTC) >= expires
    listed = {k["key_id"]: k for k in tollway(billing, "keys", "list", account)["data"]}
    assert listed[old["key_id"]]["expires_at"] and listed[rotated["key_id"]]["status"] == "active"
    refused = tollway_fails(billing, "keys", "rotate", old["key_id"])
    # Refused by the admin API once billing has marked it expired, by billing before that.
    assert "rotate its successor" in refused


async def test_a_price_change_applies_from_its_time_on(billing: ServiceProcess) -> None:
    before = {p["model"]: p for p in tollway(billing, "prices", "list")["data"]}
    assert before["price-lab"]["versions"][-1]["input"] == "0.150000000"
    start = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    set_result = tollway(
        billing,
        "prices",
        "set",
        "price-lab",
        "--input",
        "0.30",
        "--output",
        "1.20",
        "--cache-read",
        "0.15",
        "--effective-from",
        start,
    )
    assert set_result["version"]["input"] == "0.300000000"
    after = {p["model"]: p for p in tollway(billing, "prices", "list")["data"]}
    versions = after["price-lab"]["versions"]
    assert versions[0]["version"] == "catalog" and len(versions) >= 2
    assert datetime.fromisoformat(versions[-1]["effective_from"]) > datetime.now(UTC)
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    backdated = tollway(
        billing,
        "prices",
        "set",
        "price-lab",
        "--input",
        "9",
        "--output",
        "9",
        "--cache-read",
        "9",
        "--effective-from",
        past,
    )
    assert datetime.fromisoformat(backdated["version"]["effective_from"]) >= datetime.now(
        UTC
    ) - timedelta(seconds=5)  # never earlier than now
    assert "model_not_found" in tollway_fails(
        billing, "prices", "set", "gpt-99", "--input", "1", "--output", "1", "--cache-read", "1"
    )
