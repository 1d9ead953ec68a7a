"""One meaning of token usage across surfaces, and estimates when an upstream reports none.

Two kinds of estimate, for two needs:

- the *prompt estimate* written in ``request.started`` (billing's hold) is
  computed on every request, so it is cheap: UTF-8 bytes / 3, rounded up. Text
  averages about 4 bytes a token, so this over-estimates, the safe side for a hold;
- *counting* (``count_text``), when an upstream reports no usage (a cancelled or
  broken stream), uses the o200k_base tokenizer. It is loaded on first use:
  it costs ~130 MB, which a gateway whose upstreams report usage never pays.

Tollway's meaning (the one in ``request.completed``): ``prompt_tokens`` counts
every input token, cache reads and writes included (OpenAI's meaning);
``cache_read_tokens`` and ``cache_write_tokens`` are parts of it.
Anthropic reports ``input_tokens`` *excluding* both cache parts; its protocol module
adds them back when reading and subtracts them when writing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

__all__ = [
    "IMAGE_TOKENS",
    "Usage",
    "count_chat_prompt",
    "count_text",
    "estimate_chat_prompt",
    "estimate_input",
    "estimate_text_prompt",
    "token_count",
]

#: Tokens counted for an image: Anthropic's figure for the largest image it takes without
#: resizing (~1.15 megapixels), since the bytes are not decoded to measure it.
IMAGE_TOKENS = 1600


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    #: Part of ``completion_tokens``: what the model spent thinking.
    reasoning_tokens: int = 0

    @classmethod
    def of(
        cls, prompt: int, completion: int, read: int = 0, write: int = 0, reasoning: int = 0
    ) -> Usage:
        """A usage whose parts never exceed their wholes, whatever an upstream reported."""
        read = min(read, prompt)
        return cls(
            prompt_tokens=prompt,
            completion_tokens=completion,
            cache_read_tokens=read,
            cache_write_tokens=min(write, prompt - read),
            reasoning_tokens=min(reasoning, completion),
        )

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def uncached_prompt_tokens(self) -> int:
        return self.prompt_tokens - self.cache_read_tokens - self.cache_write_tokens


def token_count(value: Any) -> int | None:
    """A token count as an upstream should send it (a non-negative integer), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


@lru_cache(maxsize=1)
def _encoding() -> Any:
    import bpe_openai  # deferred: importing it alone costs ~60 MB

    return bpe_openai.get_encoding("o200k_base")


#: The tokenizer refuses a text of a million characters or more: longer ones are counted a
#: piece at a time (cut at a space where one is near, so few tokens are split).
_PIECE = 200_000


def count_text(text: str) -> int:
    """Tokens in ``text``, by the tokenizer."""
    if not text:
        return 0
    encoding, total, start = _encoding(), 0, 0
    while start < len(text):
        end = min(start + _PIECE, len(text))
        if end < len(text):
            space = text.rfind(" ", start + _PIECE // 2, end)
            end = space if space > start else end
        total += len(encoding.encode(text[start:end]))
        start = end
    return total


def count_chat_prompt(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    """Input tokens of OpenAI-shaped ``messages`` and ``tools``, by the tokenizer.

    OpenAI's recipe: 3 tokens per message plus its role and content, 3 to prime
    the reply; tools count as their JSON; images as ``IMAGE_TOKENS`` each.
    """
    total = 3
    for message in messages:
        total += 3 + count_text(str(message.get("role", "")))
        content = message.get("content")
        total += count_text(_content_text(content))
        if isinstance(content, list):
            total += IMAGE_TOKENS * sum(
                1 for p in content if isinstance(p, dict) and p.get("type") == "image_url"
            )
        for call in message.get("tool_calls") or ():
            function = call.get("function", {})
            total += count_text(function.get("name", "")) + count_text(
                function.get("arguments", "")
            )
    for tool in tools:
        total += count_text(orjson.dumps(tool.get("function", tool)).decode())
    return total


def estimate_text(text: str) -> int:
    """An upper-leaning estimate of the tokens in ``text``, without a tokenizer."""
    return math.ceil(len(text.encode()) / 3) if text else 0


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


#: Fields that carry no text the model reads as input (ids, markers, opaque signatures).
_NOT_INPUT = frozenset(
    {
        "type",
        "id",
        "role",
        "cache_control",
        "signature",
        "tool_use_id",
        "tool_call_id",
        "call_id",
        "detail",
        "media_type",
        "status",
        "defer_loading",
        "strict",
    }
)
_IMAGES = frozenset({"image", "image_url", "input_image"})
_FILES = frozenset({"document", "file", "input_file"})
#: Bytes of an encoded PDF per token: a page of ~50-100 KB reads as ~1,500-3,000 tokens.
_PDF_BYTES_PER_TOKEN = 30


def estimate_input(*nodes: Any) -> int:
    """Input tokens of any protocol's request parts (messages, system, tools…), near enough
    for holds and rate limits: text at 3 bytes a token, 4 per message, images as
    ``IMAGE_TOKENS``, encoded files by size. It walks the JSON once, with no tokenizer."""
    total = 3
    stack: list[Any] = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            total += estimate_text(node)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            kind = node.get("type")
            if kind.__class__ is str:  # a JSON schema's property may be named "type"
                if kind in _IMAGES:
                    total += IMAGE_TOKENS
                    continue
                if kind in _FILES and _encoded_size(node):
                    total += _encoded_size(node) * 3 // 4 // _PDF_BYTES_PER_TOKEN
                    continue
            if "role" in node:
                total += 4
            for key, value in node.items():
                if key in _NOT_INPUT:
                    continue
                if value.__class__ is str:  # most values: text, added without the stack
                    total += estimate_text(value)
                else:
                    stack.append(value)
    return total


def _encoded_size(node: dict[str, Any]) -> int:
    """The length of a file part's base64 data (0 for a text document)."""
    source = node.get("source") or node.get("file") or node
    data = source.get("data") or source.get("file_data") if isinstance(source, dict) else None
    if isinstance(source, dict) and source.get("type") in ("text", "content"):
        return 0
    return len(data) if isinstance(data, str) else 0


def estimate_chat_prompt(messages: list[dict[str, Any]], tools: Any = None) -> int:
    """Prompt tokens of an OpenAI chat body's messages and tools."""
    return estimate_input(messages, tools)


def estimate_text_prompt(prompt: str | list[str]) -> int:
    return sum(estimate_text(p) for p in ([prompt] if isinstance(prompt, str) else prompt))
