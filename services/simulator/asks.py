"""What the simulator reads of a request, whichever protocol it came in: OpenAI chat and
completions, Anthropic Messages, OpenAI Responses.

Each reader checks what a real upstream would refuse outright (no messages, a cap below 1,
a tool result without a call) and turns the rest into one ``Ask``: the prompt as token ids,
the tools offered, what the last turn was, and the settings that shape the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from .tokens import chat_prompt_tokens, encoding, text_of

__all__ = ["Ask", "BadRequest", "read_chat", "read_completion", "read_messages", "read_responses"]

Kind = Literal["chat", "text", "messages", "responses"]
_END = 200008  # an end-of-message marker, as OpenAI counts ~3 tokens a message


class BadRequest(ValueError):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass
class Ask:
    kind: Kind
    prompt: list[int]
    #: Tools offered: (name, JSON schema of the arguments).
    tools: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    #: A tool the caller forces by name, "*" for any tool, "" for none allowed, None: auto.
    forced: str | None = None
    #: The last turn's user text, or the text of the tool result it carried.
    user_text: str = ""
    tool_result: str | None = None
    max_tokens: int | None = None
    n: int = 1
    thinking: bool = False
    encrypted_reasoning: bool = False
    #: Anthropic prompt-cache breakpoints: the token count of each marked prefix.
    breakpoints: list[int] = field(default_factory=list)
    stream: bool = False
    include_usage: bool = False


def _positive(body: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = body.get(name)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BadRequest(f"{name} must be a positive integer", name)
            return value
    return None


def _n(body: dict[str, Any]) -> int:
    n = body.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128:
        raise BadRequest("n must be an integer from 1 to 128", "n")
    return n


def read_chat(body: dict[str, Any]) -> Ask:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty array of message objects", "messages")
    if not all(isinstance(m, dict) for m in messages):
        raise BadRequest("messages must be a non-empty array of message objects", "messages")
    tools = [
        (str(fn.get("name")), fn.get("parameters"))
        for t in body.get("tools") or ()
        if isinstance(fn := t.get("function"), dict)
    ]
    choice = body.get("tool_choice")
    last = _last_turn(messages)
    return Ask(
        "chat",
        chat_prompt_tokens(messages, body.get("tools")),
        tools,
        _forced(choice, {"none": "", "required": "*"}),
        text_of(last.get("content")) if last.get("role") == "user" else "",
        text_of(last.get("content")) if last.get("role") == "tool" else None,
        _positive(body, "max_completion_tokens", "max_tokens"),
        _n(body),
        stream=bool(body.get("stream")),
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
    )


def _last_turn(messages: list[Any]) -> dict[str, Any]:
    """The last message that is not a system one (agents add system messages after turns)."""
    turns = [m for m in messages if isinstance(m, dict) and m.get("role") not in SYSTEM]
    return turns[-1] if turns else {}


SYSTEM = ("system", "developer")


def _forced(choice: Any, words: dict[str, str]) -> str | None:
    if isinstance(choice, str):
        return words.get(choice)
    if isinstance(choice, dict):
        name = choice.get("name") or (choice.get("function") or {}).get("name")
        return str(name) if name else words.get(str(choice.get("type")))
    return None


def read_completion(body: dict[str, Any]) -> Ask:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
        tokens = list(prompt)  # token ids, as vLLM takes them
    elif isinstance(prompt, str):
        tokens = encoding().encode(prompt)
    else:
        raise BadRequest("prompt must be a string or an array of token ids", "prompt")
    return Ask(
        "text",
        tokens,
        max_tokens=_positive(body, "max_tokens") or 16,
        n=_n(body),
        stream=bool(body.get("stream")),
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
    )


# -- Anthropic ----------------------------------------------------------------------------------


class _Prompt:
    """Token ids built part by part, noting where cache breakpoints fall."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.breakpoints: list[int] = []

    def add(self, text: str, marked: bool = False) -> None:
        self.ids.extend(encoding().encode(text))
        if marked:
            self.breakpoints.append(len(self.ids))


def _block_text(block: Any) -> str:
    if not isinstance(block, dict):
        raise BadRequest("content blocks must be objects", "messages")
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "tool_use":
        return f"{block.get('name')}{orjson.dumps(block.get('input')).decode()}"
    if kind == "tool_result":
        return _result_text(block.get("content"))
    if kind == "thinking":
        return str(block.get("thinking", ""))
    return ""


def _result_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return "" if content is None else str(content)


def read_messages(body: dict[str, Any]) -> Ask:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: Field required", "messages")
    prompt = _Prompt()
    tools = []
    for tool in body.get("tools") or ():
        tools.append((str(tool.get("name")), tool.get("input_schema")))
        prompt.add(orjson.dumps(tool).decode(), bool(tool.get("cache_control")))
    system = body.get("system")
    blocks = [{"type": "text", "text": system}] if isinstance(system, str) else system or []
    for block in blocks:
        prompt.add("<|system|>\n" + _block_text(block), bool(block.get("cache_control")))
    for message in messages:
        content = message.get("content")
        items = [{"type": "text", "text": content}] if isinstance(content, str) else content
        prompt.add(f"<|{message.get('role')}|>\n")
        for block in items or ():
            prompt.add(_block_text(block), bool(block.get("cache_control")))
        prompt.ids.append(_END)
    if body.get("cache_control"):  # automatic caching: a breakpoint after the last block
        prompt.breakpoints.append(len(prompt.ids))
    last = _last_turn(messages)
    content = last.get("content")
    items = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
    results = [b for b in items if isinstance(b, dict) and b.get("type") == "tool_result"]
    thinking = body.get("thinking") or {}
    return Ask(
        "messages",
        prompt.ids,
        tools,
        _forced(body.get("tool_choice"), {"any": "*", "none": ""}),
        "" if results else "".join(_block_text(b) for b in items),
        _result_text(results[-1].get("content")) if results else None,
        _positive(body, "max_tokens"),
        thinking=thinking.get("type") in ("enabled", "adaptive"),
        breakpoints=prompt.breakpoints,
        stream=bool(body.get("stream")),
    )


# -- OpenAI Responses ---------------------------------------------------------------------------


def _item_text(item: dict[str, Any]) -> str:
    kind = item.get("type", "message")
    if kind == "message":
        return text_of(item.get("content"))
    if kind == "function_call":
        return f"{item.get('name')}{item.get('arguments')}"
    if kind == "function_call_output":
        return text_of(item.get("output"))
    return ""


def read_responses(body: dict[str, Any]) -> Ask:
    raw = body.get("input")
    items = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadRequest("input must be a string or an array of items", "input")
    enc, ids = encoding(), []
    if body.get("instructions"):
        ids.extend(enc.encode(f"<|system|>\n{body['instructions']}"))
    for item in items:
        ids.extend(enc.encode(f"<|{item.get('role', item.get('type'))}|>\n{_item_text(item)}"))
        ids.append(_END)
    tools = [
        (str(t.get("name")), t.get("parameters"))
        for t in body.get("tools") or ()
        if t.get("type") == "function"
    ]
    if body.get("tools"):
        ids.extend(enc.encode(str(body["tools"])))
    last = _last_turn(items)
    reasoning = body.get("reasoning") or {}
    return Ask(
        "responses",
        ids,
        tools,
        _forced(body.get("tool_choice"), {"none": "", "required": "*"}),
        text_of(last.get("content")) if last.get("type", "message") == "message" else "",
        text_of(last.get("output")) if last.get("type") == "function_call_output" else None,
        _positive(body, "max_output_tokens"),
        thinking=bool(reasoning.get("effort")) and reasoning.get("effort") != "none",
        encrypted_reasoning="reasoning.encrypted_content" in (body.get("include") or ()),
        stream=bool(body.get("stream")),
    )
