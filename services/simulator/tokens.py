"""Token counting and a prompt-prefix cache, the way an OpenAI-compatible upstream reports them."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import bpe_openai

__all__ = ["PrefixCache", "chat_prompt_tokens", "completion_text", "encoding", "text_of"]

# ASCII so any token slice decodes cleanly; long enough for any max_tokens we emit.
_FILLER = (
    "The quick brown fox jumps over the lazy dog while the gateway counts every token "
    "and the ledger records each charge exactly once. "
)


class Encoding:
    """o200k_base that also takes texts of a million characters and more (the package refuses
    those whole: they are encoded a piece at a time)."""

    PIECE = 200_000

    def __init__(self) -> None:
        self._inner = bpe_openai.get_encoding("o200k_base")

    def encode(self, text: str) -> list[int]:
        if len(text) <= self.PIECE:
            return list(self._inner.encode(text))
        ids: list[int] = []
        for start in range(0, len(text), self.PIECE):
            ids.extend(self._inner.encode(text[start : start + self.PIECE]))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._inner.decode(list(ids)))


@lru_cache(maxsize=1)
def encoding() -> Encoding:
    """o200k_base, built into the package: nothing is downloaded."""
    return Encoding()


@lru_cache(maxsize=1)
def _filler_tokens() -> tuple[int, ...]:
    return tuple(encoding().encode(_FILLER * 8))


def completion_text(n_tokens: int) -> list[str]:
    """``n_tokens`` pieces of text, one per generated token."""
    enc, filler = encoding(), _filler_tokens()
    return [enc.decode([filler[i % len(filler)]]) for i in range(n_tokens)]


def text_of(content: Any) -> str:
    """The text of an OpenAI message ``content``: a string or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def chat_prompt_tokens(messages: Sequence[dict[str, Any]], tools: Any = None) -> list[int]:
    """Token ids of a chat prompt: each message as ``<role>\\n<content>`` plus tool calls."""
    enc = encoding()
    ids: list[int] = []
    for message in messages:
        rendered = f"<|{message.get('role', 'user')}|>\n{text_of(message.get('content'))}"
        if message.get("tool_calls"):
            rendered += str(message["tool_calls"])
        ids.extend(enc.encode(rendered))
        ids.extend((200008,))  # an end-of-message marker, as OpenAI counts ~3 tokens a message
    if tools:
        ids.extend(enc.encode(str(tools)))
    return ids


class PrefixCache:
    """Remembers prompt prefixes in blocks of ``block`` tokens, least recently used out first.

    ``cached_tokens`` of a prompt is the longest run of whole blocks from its
    start that an earlier prompt already had, the way OpenAI reports
    ``prompt_tokens_details.cached_tokens``.
    """

    def __init__(self, block: int = 64, capacity: int = 100_000) -> None:
        self.block = block
        self.capacity = capacity
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def lookup_and_store(self, tokens: Sequence[int]) -> int:
        digest = hashlib.blake2b(digest_size=16)
        cached, still_hitting = 0, True
        for end in range(self.block, len(tokens) + 1, self.block):
            digest.update(b"".join(t.to_bytes(4, "little") for t in tokens[end - self.block : end]))
            key = digest.copy().digest()
            if still_hitting and key in self._seen:
                self._seen.move_to_end(key)
                cached = end
                continue
            still_hitting = False
            self._seen[key] = None
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return cached
