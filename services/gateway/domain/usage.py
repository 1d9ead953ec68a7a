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
Anthropic reports ``input_tokens`` *excluding* both cache parts, so
``to_anthropic`` subtracts them and ``from_anthropic`` adds them back.
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
    "estimate_text_prompt",
]

#: Tokens counted for an image: Anthropic's figure for the largest image it takes without
#: resizing (~1.15 megapixels), since the bytes are not decoded to measure it.
IMAGE_TOKENS = 1600


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @classmethod
    def from_openai(cls, raw: Any) -> Usage | None:
        """The upstream's usage, or None when it reported none a count can be taken from
        (missing, or prompt and completion tokens that are not non-negative integers): the
        caller then counts with the tokenizer. Odd cache details count as zero."""
        if not isinstance(raw, dict):
            return None
        prompt, completion = _count(raw.get("prompt_tokens")), _count(raw.get("completion_tokens"))
        if prompt is None or completion is None:
            return None
        details = raw.get("prompt_tokens_details")
        details = details if isinstance(details, dict) else {}
        read = _count(details.get("cached_tokens")) or 0
        write = _count(details.get("cache_write_tokens"))
        if write is None:
            write = _count(raw.get("cache_creation_input_tokens")) or 0
        return cls(
            prompt_tokens=prompt,
            completion_tokens=completion,
            cache_read_tokens=min(read, prompt),
            cache_write_tokens=min(write, prompt - min(read, prompt)),
        )

    @classmethod
    def from_anthropic(cls, raw: dict[str, Any]) -> Usage:
        read = int(raw.get("cache_read_input_tokens") or 0)
        write = int(raw.get("cache_creation_input_tokens") or 0)
        return cls(
            prompt_tokens=int(raw.get("input_tokens") or 0) + read + write,
            completion_tokens=int(raw.get("output_tokens") or 0),
            cache_read_tokens=read,
            cache_write_tokens=write,
        )

    def to_openai(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cache_read_tokens},
        }

    def to_anthropic(self) -> dict[str, Any]:
        uncached = self.prompt_tokens - self.cache_read_tokens - self.cache_write_tokens
        return {
            "input_tokens": max(uncached, 0),
            "output_tokens": self.completion_tokens,
            "cache_read_input_tokens": self.cache_read_tokens,
            "cache_creation_input_tokens": self.cache_write_tokens,
        }

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def _count(value: Any) -> int | None:
    """A token count as an upstream should send it (a non-negative integer), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


@lru_cache(maxsize=1)
def _encoding() -> Any:
    import bpe_openai  # deferred: importing it alone costs ~60 MB

    return bpe_openai.get_encoding("o200k_base")


def count_text(text: str) -> int:
    """Tokens in ``text``, by the tokenizer."""
    return len(_encoding().encode(text)) if text else 0


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


def estimate_chat_prompt(messages: list[dict[str, Any]], tools: Any = None) -> int:
    """Prompt tokens as OpenAI counts them, near enough for holds and estimates."""
    total = 3
    for message in messages:
        total += 4 + estimate_text(_content_text(message.get("content")))
        if message.get("tool_calls"):
            total += estimate_text(str(message["tool_calls"]))
    if tools:
        total += estimate_text(str(tools))
    return total


def estimate_text_prompt(prompt: str | list[str]) -> int:
    return sum(estimate_text(p) for p in ([prompt] if isinstance(prompt, str) else prompt))
