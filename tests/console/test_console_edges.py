"""The console's bad paths, over plain HTTP against the same stack: forged and cross-site
forms, the wrong person on a page, hostile ids and names, oversized forms, and what a
member may not see of another account."""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.cookies import SimpleCookie

import httpx
import openai
import pytest

from schemas.admin_access import add_token
from tests.stack import RunningStack
from tests.support import unique, wait_until

pytestmark = pytest.mark.console

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def _csrf(client: httpx.Client, path: str = "/sign-in") -> str:
    page = client.get(path)
    found = _CSRF.search(page.text)
    assert found, page.text[:2000]
    return found.group(1)


class Browserish(httpx.Client):
    """A client that keeps cookies as a browser does on http://127.0.0.1, which browsers
    treat as secure (httpx's cookie jar sends no ``Secure`` cookie over plain http)."""

    def __init__(self, base_url: str) -> None:
        super().__init__(
            base_url=base_url,
            timeout=30,
            event_hooks={"request": [self._send], "response": [self._keep]},
        )
        self.jar: dict[str, str] = {}

    def _send(self, request: httpx.Request) -> None:
        if self.jar:
            request.headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())

    def _keep(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(header)
            for name, morsel in parsed.items():
                if morsel["max-age"] == "0":
                    self.jar.pop(name, None)
                else:
                    self.jar[name] = morsel.value


@pytest.fixture
def browser_like(stack: RunningStack) -> Iterator[Browserish]:
    with Browserish(stack.url("console")) as client:
        yield client


def _staff(client: httpx.Client, token: str) -> None:
    signed = client.post("/sign-in", data={"csrf": _csrf(client), "kind": "staff", "token": token})
    assert signed.status_code == 303, signed.text[:2000]


def test_every_answer_carries_strict_cookies_and_headers(browser_like: httpx.Client) -> None:
    page = browser_like.get("/sign-in")
    assert page.status_code == 200
    assert re.fullmatch(r"req_[0-9a-f]{32}", page.headers["x-request-id"])
    assert "script-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie


def test_forms_without_the_csrf_value_or_from_another_site_are_refused(
    stack: RunningStack, browser_like: httpx.Client
) -> None:
    token = stack.admin_token
    forged = browser_like.post("/sign-in", data={"kind": "staff", "token": token})
    assert forged.status_code == 403 and "expired" in forged.text
    assert "tollway_console" not in forged.headers.get("set-cookie", "")
    wrong = browser_like.post("/sign-in", data={"csrf": "0" * 64, "kind": "staff", "token": token})
    assert wrong.status_code == 403
    cross = browser_like.post(
        "/sign-in",
        data={"csrf": _csrf(browser_like), "kind": "staff", "token": token},
        headers={"origin": "https://evil.example"},
    )
    assert cross.status_code == 403 and "another site" in cross.text


def test_wrong_credentials_are_a_clear_4xx_with_the_request_id(
    browser_like: Browserish,
) -> None:
    bad = browser_like.post(
        "/sign-in", data={"csrf": _csrf(browser_like), "kind": "staff", "token": "twadm_nope"}
    )
    assert bad.status_code == 401 and "request_id req_" in bad.text
    member = browser_like.post(
        "/sign-in",
        data={
            "csrf": _csrf(browser_like),
            "kind": "member",
            "email": "nobody@example.com",
            "password": "not the password",
        },
    )
    assert member.status_code == 401 and "tollway_console" not in member.headers.get(
        "set-cookie", ""
    )
    odd = browser_like.post("/sign-in", data={"csrf": _csrf(browser_like), "kind": "root"})
    assert odd.status_code == 400
    control = browser_like.post(
        "/sign-in", data={"csrf": _csrf(browser_like), "kind": "staff", "token": "twadm_a\x01b"}
    )
    assert control.status_code == 401 and "not an admin token" in control.text
    browser_like.jar["tollway_console"] = "staff:twadm_\u00e9x"  # a cookie made up by hand
    refused = browser_like.get("/accounts")
    assert refused.headers.get("location") == "/sign-in", (refused.status_code, refused.text[:300])


def test_a_token_sees_only_the_pages_of_its_scopes(
    stack: RunningStack, browser_like: httpx.Client
) -> None:
    finance = add_token(stack.data_dir / "admin-tokens.json", unique("books"), ["finance"])
    _staff(browser_like, finance)
    assert browser_like.get("/finance").status_code == 200
    refused = browser_like.get("/accounts")
    assert refused.status_code == 403 and "none of the scopes" in refused.text
    made = browser_like.post(
        "/accounts", data={"csrf": _csrf(browser_like, "/finance"), "name": "Sneaky"}
    )
    assert made.status_code == 403
    assert browser_like.get("/me").status_code == 303  # a member's page: sign in as one


def test_hostile_ids_names_and_sizes(stack: RunningStack, browser_like: httpx.Client) -> None:
    _staff(browser_like, stack.admin_token)
    for path in ("/accounts/..%2F..%2Fv1%2Fprices", "/accounts/a%20b", "/accounts/acc_missing"):
        answer = browser_like.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
        assert "request_id req_" in answer.text
    name = "<script>alert(1)</script>"
    stack.cli_json("accounts", "create", name)
    listed = browser_like.get("/accounts", params={"q": "script"})
    assert name not in listed.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in listed.text
    huge = browser_like.post(
        "/accounts", data={"csrf": _csrf(browser_like, "/accounts"), "name": "x" * 100_000}
    )
    assert huge.status_code == 413
    csrf = _csrf(browser_like, "/accounts")

    def chunks() -> Iterator[bytes]:  # no Content-Length to refuse it by
        yield f"csrf={csrf}&name=".encode()
        for _ in range(100):
            yield b"x" * 1024

    chunked = browser_like.post(
        "/accounts",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 413
    crowded = browser_like.post(
        "/accounts", data={"csrf": csrf} | {f"f{i}": "1" for i in range(60)}
    )
    assert crowded.status_code == 400
    bad_money = browser_like.post(
        f"/accounts/{stack.cli_json('accounts', 'create', 'Edge Co')['account_id']}/top-ups",
        data={"csrf": _csrf(browser_like, "/accounts"), "amount_usd": "1e400"},
    )
    assert bad_money.status_code == 400 and "amount_usd" in bad_money.text
    bad_hook = browser_like.post(
        f"/accounts/{stack.cli_json('accounts', 'create', 'Hook Co')['account_id']}/webhooks",
        data={"csrf": _csrf(browser_like, "/accounts"), "url": "ftp://files.example/x"},
    )
    assert bad_hook.status_code == 400 and "url" in bad_hook.text
    slashed = browser_like.post(
        "/prices",
        data={"csrf": _csrf(browser_like, "/status"), "model": "../admin", "input": "1"},
    )
    assert slashed.status_code == 400


def test_approval_redirects_only_inside_the_console(
    stack: RunningStack, browser_like: httpx.Client
) -> None:
    _staff(browser_like, stack.admin_token)
    account = stack.cli_json("accounts", "create", "Redirect Co")["account_id"]
    added = stack.cli_json("members", "add", account, f"{unique('eve')}@example.com")
    approved = browser_like.post(
        f"/members/{added['member_id']}/approve",
        data={"csrf": _csrf(browser_like, "/approvals"), "back": "https://evil.example/"},
    )
    assert approved.status_code == 303
    assert approved.headers["location"] == "/approvals?done=approved"


def test_a_member_cannot_read_another_accounts_request(
    stack: RunningStack, browser_like: httpx.Client
) -> None:
    other = stack.cli_json("accounts", "create", "Other Co")["account_id"]
    stack.cli_json("topup", other, "10")
    secret = stack.cli_json("keys", "create", other)["secret"]
    client = openai.OpenAI(base_url=stack.url("gateway") + "/v1", api_key=secret, max_retries=0)
    seen: dict[str, str] = {}

    def call() -> bool:
        try:
            raw = client.chat.completions.with_raw_response.create(
                model="sim-small", messages=[{"role": "user", "content": "secret plans"}]
            )
        except openai.APIStatusError:
            return False
        seen["id"] = raw.headers["x-request-id"]
        return True

    wait_until(call, 30, "a call with the other account's key")
    wait_until(
        lambda: stack.cli("request", seen["id"], ok=False).returncode == 0,
        30,
        "the other account's request in metering",
    )

    mine = stack.cli_json("accounts", "create", "Mine Co")["account_id"]
    added = stack.cli_json("members", "add", mine, f"{unique('mal')}@example.com")
    signed = browser_like.post(
        "/sign-in",
        data={
            "csrf": _csrf(browser_like),
            "kind": "member",
            "email": added["email"],
            "password": added["password"],
        },
    )
    assert signed.status_code == 303, signed.text[:2000]
    theirs = browser_like.get("/me/requests", params={"request_id": seen["id"]})
    unknown = browser_like.get("/me/requests", params={"request_id": "req_" + "1" * 32})
    assert theirs.status_code == unknown.status_code == 404
    assert "secret plans" not in theirs.text and other not in theirs.text
    assert browser_like.get("/accounts").status_code == 303  # staff pages: sign in as staff
