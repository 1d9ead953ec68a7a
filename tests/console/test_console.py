"""The console's story in a real browser, as its users live it: an operator creates an
account, tops it up and adds a member; the member signs in, asks for developer access;
the operator approves it; the member creates a key and uses it with the OpenAI SDK, then
finds the request in their usage chart and in the lookup; support finds it too; finance
sees it in the report and downloads it."""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
from playwright.sync_api import Browser, Page

from tests.console.conftest import Shots
from tests.stack import RunningStack
from tests.support import free_port, unique, wait_until

pytestmark = pytest.mark.console


def reload_until(page: Page, found: Callable[[str], bool], what: str, timeout: float = 30) -> str:
    """Reload until the page's main text satisfies ``found`` (server-rendered pages do not
    change on their own); the text it ends with."""
    seen = {"text": ""}

    def check() -> bool:
        # A submitted form's page may still be landing; reloading it then fails with
        # "Not attached to an active page" (Chromium swaps the document): reload once it loaded.
        page.wait_for_load_state()
        page.reload()
        seen["text"] = page.inner_text("main")
        return found(seen["text"])

    try:
        wait_until(check, timeout, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the page said:\n{seen['text'][:3000]}") from None
    return seen["text"]


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    """A webhook receiver on this machine: its URL, and the bodies it was sent."""
    got: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tollway", got
    finally:
        server.shutdown()


def test_operator_member_support_and_finance_in_a_browser(
    stack: RunningStack, browser: Browser, shots: Shots, receiver: tuple[str, list[bytes]]
) -> None:
    console, gateway = stack.url("console"), stack.url("gateway")
    operator = browser.new_context(base_url=console).new_page()
    member = browser.new_context(base_url=console).new_page()

    # The operator signs in with the stack's admin token and creates a funded account.
    operator.goto("/")
    assert operator.url.endswith("/sign-in")
    shots(operator, "sign-in")
    operator.fill("input[name=token]", stack.admin_token)
    operator.click("#staff-sign-in")
    assert operator.url.endswith("/accounts"), operator.inner_text("main")
    operator.fill("#create-account input[name=name]", "Browser Co")
    operator.click("#create-account button")
    assert re.search(r"/accounts/acc_\w+", operator.url), operator.inner_text("main")
    account_id = operator.url.rsplit("/", 1)[1].split("?")[0]
    operator.fill("#top-up input[name=amount_usd]", "20")
    operator.click("#top-up button")
    operator.wait_for_url(re.compile(r"/accounts/acc_\w+\?done=topped_up"))
    # Billing's view reads balances and its audit from different topics: wait for both.
    reload_until(
        operator,
        lambda t: "19.000000000 USD" in t and "balance.top_up" in t,
        "the top-up in the balance and in who did what",
    )
    audit = operator.inner_text("#audit")
    assert "balance.top_up" in audit and "20.000000000" in audit and "env" in audit, audit

    # Its alerts go to a webhook (the signing secret shown once).
    hook_url, delivered = receiver
    operator.fill("#add-webhook input[name=url]", hook_url)
    operator.click("#add-webhook button")
    assert operator.inner_text("#webhook-secret").startswith("whsec_")
    assert hook_url in operator.inner_text("#webhooks")

    # The operator adds a member; the first password is on the page, once.
    email = f"{unique('grace')}@example.com"
    operator.fill("#add-member input[name=email]", email)
    operator.click("#add-member button")
    password = operator.inner_text("#first-password").strip()
    assert len(password) >= 20
    shots(operator, "account-member-added")
    reload_until(operator, lambda t: email in t, "the member in the account's list")
    assert password not in operator.content()  # shown once: not on the page any more

    # The member signs in, cannot create keys yet, and asks for access.
    # (No retries: five wrong sign-ins would lock the email for 15 minutes. The member is in
    # billing's view already: the operator's page listed them.)
    member.goto("/sign-in")
    member.fill("input[name=email]", email)
    member.fill("input[name=password]", password)
    member.click("#member-sign-in")
    assert member.url.endswith("/me"), member.inner_text("main")
    assert "19.000000000 USD" in member.inner_text("#balance")
    member.click("#ask-access")
    assert "Developer access requested" in member.inner_text("main")
    member.goto("/me/alerts")
    reload_until(
        member,
        lambda t: "member.developer_access_requested: delivered" in t,
        "the access request delivered to the webhook",
    )
    assert any(b"developer_access_requested" in body for body in delivered)
    shots(member, "alerts")
    member.goto("/me/keys")
    assert member.locator("#create-key").count() == 0

    # The operator approves it from the queue.
    operator.goto("/approvals")
    reload_until(operator, lambda t: email in t, "the request in the approval queue")
    shots(operator, "approvals")
    operator.locator("#members tr", has_text=email).locator("button", has_text="Approve").click()
    assert "Developer access approved" in operator.inner_text("main")

    # The member creates a key (the secret is shown once) and calls a model with it.
    member.goto("/me/keys")
    reload_until(member, lambda t: "Create a key" in t, "the key form once access is approved")
    member.fill("#create-key input[name=name]", "laptop")
    member.fill("#create-key input[name=allowed_models]", "sim-small")
    member.click("#create-key button")
    secret = member.inner_text("#secret-value").strip()
    assert secret.startswith("tw_"), secret
    shots(member, "key-created")
    member.goto("/me/keys")
    reload_until(member, lambda t: "laptop" in t, "the new key in the list")
    assert secret not in member.content()

    client = openai.OpenAI(base_url=gateway + "/v1", api_key=secret, max_retries=0)
    answered: dict[str, str] = {}

    def call() -> bool:
        try:
            raw = client.chat.completions.with_raw_response.create(
                model="sim-small", messages=[{"role": "user", "content": "Hello, console"}]
            )
        except openai.APIStatusError:  # the new key has not reached the gateway yet
            return False
        answered["request_id"] = raw.headers["x-request-id"]
        return bool(raw.parse().choices[0].message.content)

    wait_until(call, 30, "a call with the member's new key")
    request_id = answered["request_id"]

    # The request shows in the member's usage (chart and table) and in their lookup.
    member.goto("/me/usage")
    text = reload_until(member, lambda t: "1 requests" in t, "the request in the usage page")
    assert "sim-small" in member.inner_text("#usage-table")
    assert member.locator("figure.chart svg").count() == 3
    assert "No usage" not in text
    shots(member, "usage")
    member.goto(f"/me/requests?request_id={request_id}")
    reload_until(member, lambda t: "USD at price version" in t, "the request's charge")
    shots(member, "request-lookup")
    stranger = "req_" + "0" * 32
    member.goto(f"/me/requests?request_id={stranger}")
    assert f"No request {stranger}" in member.inner_text("main")

    # Support finds the same trail, with the account around it.
    operator.goto(f"/support?request_id={request_id}")
    trail = operator.inner_text("#trail")
    assert account_id in trail and "completed" in trail and "sim-small" in trail
    shots(operator, "support")

    # Finance sees the revenue and downloads the report as CSV.
    operator.goto("/finance")
    earned = re.compile(r"revenue (?!0\.000000000 )[0-9.]+ USD")
    totals = reload_until(operator, lambda t: bool(earned.search(t)), "revenue in the report")
    assert "Clean" in operator.inner_text("#reconcile"), totals
    shots(operator, "finance")
    with operator.expect_download() as download:
        operator.click("#download-csv")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert rows and sum(int(r["requests"]) for r in rows) >= 1

    # Every service healthy on the status page; prices listed.
    operator.goto("/status")
    assert operator.locator("#services tr.bad").count() == 0
    lag = reload_until(operator, lambda t: "tollway." in t.split("Consumer lag")[1], "lag rows")
    assert "billing" in lag and "metering" in lag
    assert "sim-small" in operator.inner_text("#prices")
    operator.fill("#set-price input[name=model]", "sim-large")
    for field, usd in (("input", "3"), ("output", "15"), ("cache_read", "0.3")):
        operator.fill(f"#set-price input[name={field}]", usd)
    operator.click("#set-price button")
    assert "Price recorded" in operator.inner_text("main"), operator.inner_text("main")
    assert "15.000000000" in operator.inner_text("#prices")
    shots(operator, "status")

    # Signing out ends the member's session at billing too.
    member.goto("/me")
    shots(member, "member-account")
    member.click("header .signout button")
    assert member.url.endswith("/sign-in?done=signed_out")
    member.goto("/me")
    assert member.url.endswith("/sign-in")
