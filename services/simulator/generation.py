"""What the simulated model answers: pure, given what it was asked and its settings.

It calls a tool when the caller forces one (``tool_choice``) or when a script says so
(``POST /_sim/script``), never on its own: a coding agent offers dozens of tools, and a
simulated model that picked one by itself would set the agent off doing things. After a
tool result it answers with that result quoted, so a test can see the result went round;
else it writes filler text up to its output length.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from .asks import Ask, BadRequest
from .responses import tool_arguments
from .tokens import PrefixCache, completion_text, encoding

__all__ = ["Plan", "PromptCaches", "Script", "ScriptBook", "plan"]

THINKING = "Let me think about what was asked and answer briefly."


@dataclass(frozen=True)
class Plan:
    """One answer: the pieces to emit (one per token), or a tool call, and the usage."""

    pieces: list[str]
    prompt_tokens: int
    cached_tokens: int
    finish_reason: str
    n: int = 1
    tool_call: dict[str, Any] | None = None
    cache_write_tokens: int = 0
    thinking: list[str] = field(default_factory=list)

    @property
    def completion_tokens(self) -> int:
        per_choice = len(self.pieces) + len(self.thinking)
        if self.tool_call is not None:
            fn = self.tool_call["function"]
            per_choice += len(encoding().encode(fn["name"] + fn["arguments"]))
        return per_choice * self.n

    @property
    def reasoning_tokens(self) -> int:
        return len(self.thinking) * self.n


@dataclass(frozen=True)
class Script:
    """Call ``tool`` with ``arguments`` the next ``count`` times it is offered."""

    tool: str
    arguments: dict[str, Any]
    count: int = 1


@dataclass
class ScriptBook:
    scripts: list[Script] = field(default_factory=list)

    def take(self, offered: list[str]) -> Script | None:
        for i, script in enumerate(self.scripts):
            if script.tool in offered:
                if script.count > 1:
                    self.scripts[i] = Script(script.tool, script.arguments, script.count - 1)
                else:
                    del self.scripts[i]
                return script
        return None


class PromptCaches:
    """OpenAI's automatic prefix cache, and Anthropic's breakpoint cache: a marked prefix is
    written the first time and read after."""

    def __init__(self, block: int) -> None:
        self.prefixes = PrefixCache(block)
        self._marked: set[bytes] = set()

    def anthropic(self, ask: Ask) -> tuple[int, int]:
        """(read, written) tokens for the request's breakpoints."""
        read = written = 0
        for end in sorted(set(ask.breakpoints)):
            key = orjson.dumps(ask.prompt[:end])
            if key in self._marked:
                read = end
            else:
                self._marked.add(key)
                written = end
        return read, max(written - read, 0)


def _call(name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _tool_call(ask: Ask, scripts: ScriptBook) -> dict[str, Any] | None:
    if not ask.tools or ask.forced == "" or ask.tool_result is not None:
        return None
    schemas = dict(ask.tools)
    script = scripts.take(list(schemas))
    if script is not None:
        return _call(script.tool, orjson.dumps(script.arguments).decode())
    if ask.forced is None:
        return None
    name = ask.tools[0][0] if ask.forced == "*" else ask.forced
    if name not in schemas:
        raise BadRequest("tool_choice names no tool in tools", "tool_choice")
    return _call(name, tool_arguments(schemas[name]))


def plan(ask: Ask, caches: PromptCaches, scripts: ScriptBook, default_tokens: int) -> Plan:
    write = 0
    if ask.kind == "messages":
        cached, write = caches.anthropic(ask)
    else:
        cached = caches.prefixes.lookup_and_store(ask.prompt)
    thinking = completion_text_of(THINKING) if ask.thinking else []
    call = _tool_call(ask, scripts)
    if call is not None:
        return Plan([], len(ask.prompt), cached, "tool_calls", ask.n, call, write, thinking)
    if ask.tool_result is not None:
        pieces = completion_text_of(f"The tool said: {ask.tool_result[:400]}")
    else:
        pieces = completion_text(default_tokens)
    finish = "stop"
    if ask.max_tokens is not None and ask.max_tokens < len(pieces):
        pieces, finish = pieces[: ask.max_tokens], "length"
    return Plan(pieces, len(ask.prompt), cached, finish, ask.n, None, write, thinking)


def completion_text_of(text: str) -> list[str]:
    """``text`` as the pieces a model would stream, one per token."""
    enc = encoding()
    return [enc.decode([t]) for t in enc.encode(text)]
