"""Claude Code, Codex and OpenCode, as released, against the stack ``make run`` starts, set up
with the settings ``docs/agents.md`` gives and nothing else. Each answers, one run of each
goes through a tool call and its result, and every request they made is charged exactly
once: the account's balance is its top-up less the charges, and the charges are the
catalog's prices of the tokens the upstream reported."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pricing import exact_cost
from tests.stack import RunningStack
from tests.support import eventually

from .conftest import Agent

pytestmark = pytest.mark.agents

DOCS = Path(__file__).parents[2] / "docs" / "agents.md"
FEE_BPS = 500
MARKER = "tollway-tool-ok"


def documented(name: str) -> str:
    """The fenced block docs/agents.md marks ``<!-- tested: name -->``."""
    found = re.search(rf"<!-- tested: {name} -->\n```\w*\n(.*?)```", DOCS.read_text(), re.S)
    assert found, f"docs/agents.md has no block marked {name}"
    return found.group(1)


def _at(text: str, gateway: str) -> str:
    return text.replace("http://127.0.0.1:8080", gateway)


class Tab:
    """One account for one agent's runs, and the proof it was charged for exactly what ran."""

    def __init__(self, stack: RunningStack, name: str) -> None:
        self.stack = stack
        self.account = stack.cli_json("accounts", "create", name)["account_id"]
        self.top_up = stack.cli_json("topup", self.account, "20")["balance_nano"]
        self.key = stack.cli_json("keys", "create", self.account, "--name", name)["secret"]
        self.served_before = 0

    async def _get(self, service: str, path: str, **kw: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.stack.url(service), timeout=10) as http:
            response = await http.get(path, **kw)
            return response.json()

    async def open(self) -> Tab:
        auth = {"authorization": f"Bearer {self.key}"}
        await eventually(
            lambda: self._get("gateway", "/v1/balance", headers=auth),
            lambda b: b.get("status") == "active",
            what="the key and balance at the gateway",
        )
        self.served_before = (await self._get("simulator", "/_sim/stats"))["requests"]
        return self

    async def script(self, tool: str, arguments: dict[str, Any]) -> None:
        async with httpx.AsyncClient(base_url=self.stack.url("simulator")) as http:
            scripted = {"tool": tool, "arguments": arguments, "count": 1}
            assert (await http.post("/_sim/script", json=scripted)).status_code == 201

    async def charged_exactly_once(self) -> None:
        served = (await self._get("simulator", "/_sim/stats"))["requests"] - self.served_before
        assert served > 0

        def exact(r: dict[str, Any]) -> Decimal:
            """The row's tokens at the catalog's price (each charge rounded once)."""
            written, read = r["cache_write_tokens"], r["cache_read_tokens"]
            fresh = r["prompt_tokens"] - read - written
            return exact_cost(r["model"], fresh, read, r["completion_tokens"], written)

        def priced(rows: list[dict[str, Any]]) -> bool:
            return all(
                abs(Decimal(r["cost_nano"]) - exact(r)) <= Decimal(r["requests"]) / 2 for r in rows
            )

        # A request's event and its charge (a ledger entry) reach metering separately.
        rows: list[dict[str, Any]] = await eventually(
            lambda: self._usage(),
            lambda rs: sum(r["requests"] for r in rs) == served and priced(rs),
            timeout=60,
            what=f"metering holding the {served} requests the upstream served, each charged",
        )
        charges = sum(r["cost_nano"] for r in rows)
        auth = {"authorization": f"Bearer {self.key}"}
        await eventually(
            lambda: self._get("gateway", "/v1/balance", headers=auth),
            lambda b: b.get("balance_nano") == self.top_up - charges,
            what=f"balance = top-up {self.top_up} - charges {charges}",
        )
        assert self.stack.cli_json("reconcile", "--account", self.account)["ok"]

    async def _usage(self) -> list[dict[str, Any]]:
        return list(self.stack.cli_json("usage", self.account)["data"])


async def test_claude_code(stack: RunningStack, agent: Callable[[str], Agent]) -> None:
    tab = await Tab(stack, "Claude Code").open()
    claude = agent("claude")
    env = {}
    for line in documented("claude-env").splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = _at(value, stack.url("gateway")).replace("$TOLLWAY_API_KEY", tab.key)
    (claude.work / "marker.txt").write_text(MARKER + "\n")
    await tab.script("Read", {"file_path": str(claude.work / "marker.txt")})
    told = claude.run("-p", "What does marker.txt say?", env=env).answer()
    assert MARKER in told  # the file's text went to the model as the tool's result and back
    # The same agent on a model behind a chat-completions upstream: translated both ways.
    assert claude.run("-p", "Say hi", env={**env, "ANTHROPIC_MODEL": "sim-large"}).answer()
    await tab.charged_exactly_once()


async def test_codex(stack: RunningStack, agent: Callable[[str], Agent]) -> None:
    tab = await Tab(stack, "Codex").open()
    codex = agent("codex")
    (codex.home / ".codex").mkdir()
    config = codex.home / ".codex" / "config.toml"
    config.write_text(_at(documented("codex-config"), stack.url("gateway")))
    (codex.work / "marker.txt").write_text(MARKER + "\n")
    await tab.script("exec_command", {"cmd": "cat marker.txt"})
    env = {"TOLLWAY_API_KEY": tab.key}
    told = codex.run("exec", "--skip-git-repo-check", "Show me marker.txt", env=env).answer()
    assert "The tool said: " in told and MARKER in told
    on_chat = codex.run("exec", "--skip-git-repo-check", "-m", "sim-large", "Say hi", env=env)
    assert "The quick brown fox" in on_chat.answer()
    await tab.charged_exactly_once()


async def test_opencode(stack: RunningStack, agent: Callable[[str], Agent]) -> None:
    tab = await Tab(stack, "OpenCode").open()
    opencode = agent("opencode")
    config = json.loads(_at(documented("opencode-config"), stack.url("gateway")))
    (opencode.work / "opencode.json").write_text(json.dumps(config))
    (opencode.work / "marker.txt").write_text(MARKER + "\n")
    await tab.script("read", {"filePath": str(opencode.work / "marker.txt")})
    env = {"TOLLWAY_API_KEY": tab.key}
    told = opencode.run("run", "What does marker.txt say?", env=env).answer()
    assert MARKER in told
    # A model behind a native Anthropic upstream: chat translated to Messages and back.
    on_claude = opencode.run("run", "-m", "tollway/sim-claude", "Say hi", env=env)
    assert "The quick brown fox" in on_claude.answer()
    await tab.charged_exactly_once()
