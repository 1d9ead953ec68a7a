"""Alerts reach the account's webhook: signed as Standard Webhooks specify, retried while the
receiver is down, each alert accepted once by its id, with a delivery log."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.integration.billing.test_money_path import funded, tollway, tollway_fails
from tests.integration.conftest import ADMIN_TOKEN
from tests.processes import ServiceProcess
from tests.support import eventually

pytestmark = pytest.mark.integration


class Receiver:
    """An HTTP endpoint that is down (503) for its first ``down_for`` requests, then checks
    each request's signature with ``secret`` and accepts it."""

    def __init__(self, down_for: int) -> None:
        self.down_for, self.secret = down_for, ""
        self.seen: list[dict[str, str]] = []  # every request's headers
        self.accepted: list[tuple[str, dict[str, Any]]] = []  # (webhook-id, body) answered 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.seen.append(headers)
                if len(receiver.seen) <= receiver.down_for:
                    self.send_response(503)
                else:
                    payload = Webhook(receiver.secret).verify(data, headers)  # raises if forged
                    receiver.accepted.append((headers["webhook-id"], payload))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tollway"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(down_for=3)
    yield r
    r.server.shutdown()


async def _accepted(receiver: Receiver) -> list[tuple[str, dict[str, Any]]]:
    return list(receiver.accepted)


async def test_low_balance_alerts_reach_the_webhook_once_each_after_it_was_down(
    billing: ServiceProcess, dispatcher: ServiceProcess, receiver: Receiver
) -> None:
    account, _ = funded(billing, "Hooked", "10")  # 9.50 USD after the fee
    added = tollway(
        billing, "webhooks", "add", account, receiver.url, "--event", "account.balance_low"
    )
    receiver.secret = added["secret"]
    assert added["secret"].startswith("whsec_") and added["events"] == ["account.balance_low"]
    listed = tollway(billing, "webhooks", "list", account)["data"]
    assert [w["webhook_id"] for w in listed] == [added["webhook_id"]]
    assert "secret" not in listed[0]

    # Down to 0.90 USD: under 20% of the last top-up and under 1 USD, two alerts.
    tollway(billing, "adjust", account, "-8.60", "--reason", "drain for the test")
    accepted = await eventually(
        lambda: _accepted(receiver), lambda a: len(a) >= 2, timeout=30, what="two deliveries"
    )
    assert len(receiver.seen) >= 3 + 2  # the receiver was down for its first three
    ids = [webhook_id for webhook_id, _ in accepted]
    assert len(ids) == len(set(ids)) == 2  # each alert accepted once, by its id
    kinds = sorted(body["data"]["threshold_kind"] for _, body in accepted)
    assert kinds == ["absolute", "share_of_last_top_up"]
    assert {body["type"] for _, body in accepted} == {"account.balance_low"}
    assert {body["data"]["account_id"] for _, body in accepted} == {account}


async def test_the_delivery_log_and_a_deleted_webhook(
    billing: ServiceProcess, dispatcher: ServiceProcess, receiver: Receiver
) -> None:
    receiver.down_for = 0
    account, _ = funded(billing, "Logged", "10")
    added = tollway(billing, "webhooks", "add", account, receiver.url)
    receiver.secret = added["secret"]
    tollway(billing, "adjust", account, "-8.60", "--reason", "drain")
    await eventually(lambda: _accepted(receiver), lambda a: len(a) >= 2, what="deliveries")

    def log() -> list[dict[str, Any]]:
        done = _dispatcher_cli(dispatcher, "webhooks", "deliveries", added["webhook_id"])
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout)["data"])

    entries = await eventually(
        lambda: asyncio.to_thread(log),
        lambda e: len(e) == 2 and {d["status"] for d in e} == {"delivered"},
        what="the delivery log",
    )
    assert len(entries) == 2 and all(d["attempts"] == 1 for d in entries)
    assert all(d["last_status"] == 200 for d in entries)

    deleted = tollway(billing, "webhooks", "delete", added["webhook_id"])
    assert deleted["status"] == "deleted"
    assert tollway(billing, "webhooks", "list", account)["data"] == []
    refused = tollway_fails(billing, "webhooks", "add", account, "http://u:p@127.0.0.1/x")
    assert "must not carry credentials" in refused
    refused = tollway_fails(billing, "webhooks", "add", account, receiver.url, "--event", "x")
    assert "unknown alert type 'x'" in refused


def _dispatcher_cli(dispatcher: ServiceProcess, *args: str) -> Any:
    env = {
        **os.environ,
        "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "TOLLWAY_DISPATCHER_URL": dispatcher.url,
    }
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
