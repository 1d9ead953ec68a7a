"""A team's member on ``make run``'s stack, as the README tells it: an operator adds a member
with the CLI; the member signs in at the gateway (the only address clients know), asks for
developer access, is approved, creates a key and calls a model with it through the OpenAI
SDK, then signs out.

Named to run after ``test_story.py``, which checks the stack-wide prepaid liability: its
account must be the only one with money in its report's period."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.stack import RunningStack
from tests.support import eventually, unique

pytestmark = pytest.mark.e2e


async def test_a_member_signs_in_at_the_gateway_and_uses_a_key_of_their_own(
    stack: RunningStack,
) -> None:
    gateway = stack.url("gateway")
    account = stack.cli_json("accounts", "create", "Team Co")["account_id"]
    stack.cli_json("topup", account, "10")
    email = f"{unique('ada')}@example.com"
    added = stack.cli_json("members", "add", account, email)

    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        signed = await http.post(
            "/v1/me/sessions", json={"email": email, "password": added["password"]}
        )
        assert signed.status_code == 201, signed.text
        http.headers["authorization"] = f"Bearer {signed.json()['token']}"
        asked = await http.post("/v1/me/developer-access", json={"note": "new on the team"})
        assert asked.status_code == 202, asked.text
        stack.cli_json("members", "approve", added["member_id"])
        made = await http.post("/v1/me/keys", json={"name": "laptop"})
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]

        client = openai.AsyncOpenAI(base_url=gateway + "/v1", api_key=secret, max_retries=0)

        async def ask() -> tuple[int, str]:
            try:
                answer = await client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
                )
            except openai.APIStatusError as refused:  # the key is not at the gateway yet
                return refused.status_code, ""
            return 200, answer.choices[0].message.content or ""

        _, said = await eventually(ask, lambda a: a[0] == 200, what="the member's key")
        assert said

        out = await http.delete("/v1/me/sessions/current")
        assert out.status_code == 200
        after = await http.get("/v1/me")
        assert after.status_code == 401 and after.json()["error"]["code"] == "invalid_session"
