"""Server-sent events as Anthropic's and OpenAI's Responses streams frame them."""

from __future__ import annotations

import re
from typing import Any

import orjson

__all__ = ["UpstreamStreamError", "dict_of", "named", "sse_event"]

_NAME = re.compile(r"[a-z][a-z0-9_.]{0,127}")


def sse_event(kind: str, payload: dict[str, Any]) -> bytes:
    """``event: <kind>`` and the payload with its ``type``, as one SSE event."""
    data = orjson.dumps({"type": kind, **payload})
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


def named(kind: Any, raw: bytes) -> bytes:
    """An upstream's event re-framed under its own type (one that could break the framing is
    sent under a neutral name: the data still says what it is)."""
    name = kind if isinstance(kind, str) and _NAME.fullmatch(kind) else "message"
    return b"event: " + name.encode() + b"\ndata: " + raw + b"\n\n"


class UpstreamStreamError(Exception):
    """The upstream reported a failure inside its stream (an ``error`` or failed event)."""


def dict_of(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one: upstream fields are read
    defensively, as an odd value must never cost a request its accounting."""
    return value if isinstance(value, dict) else {}
