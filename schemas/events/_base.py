"""The envelope every event shares, and the registry that decodes them.

An event is named for what happened (past tense) and carries ``type`` and
``version``. A breaking change is a new model with ``version`` + 1 beside the
old one, never an edit of the old one: logs are replayed from the beginning.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["Event", "UnknownEventError", "decode_event", "encode_event", "event_models", "new_id"]


def new_id() -> str:
    """A time-sortable unique id (UUIDv7, RFC 9562), as hex text.

    Built from integers, not ``uuid.UUID`` objects: the gateway makes three per request.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10))  # 74 of these 80 bits are used
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62 | rand & ((1 << 62) - 1)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every event and record on Kafka. Payload fields are primitives."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]

    event_id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    occurred_at: AwareDatetime = Field(default_factory=_now)

    def __init_subclass__(cls, type: str = "", version: int = 1, **kwargs: Any) -> None:
        """``class TopUp(Command, type="account.top_up")``: the event's name on the wire
        (and in the ``type`` header), registered for decoding; ``version`` is 1 until a
        breaking change adds the next beside it. A class without ``type`` is a base."""
        super().__init_subclass__(**kwargs)
        if type:
            cls.TYPE, cls.VERSION = type, version
            key = (type, version)
            if key in _REGISTRY:
                raise TypeError(f"event {key} registered twice")
            _REGISTRY[key] = cls


_REGISTRY: dict[tuple[str, int], type[Event]] = {}


class UnknownEventError(ValueError):
    """Bytes that are not a known event type and version."""


def event_models() -> dict[tuple[str, int], type[Event]]:
    return dict(_REGISTRY)


def encode_event(
    event: Event, stamp: dict[str, Any] | None = None
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The Kafka value and headers of ``event``, with ``stamp``'s fields set over its own
    (what a writer adds, such as the gateway's producer and sequence: cheaper than a copy
    of the model; the fields must be the model's, with values it would accept).

    Type and version travel in the body and, for fast dispatch, in headers.
    """
    payload = event.model_dump(mode="json")
    if stamp:
        payload.update(stamp)
    body = orjson.dumps({"type": event.TYPE, "version": event.VERSION, **payload})
    headers = [("type", event.TYPE.encode()), ("version", str(event.VERSION).encode())]
    return body, headers


def decode_event(value: bytes) -> Event:
    """Parse one Kafka value into its event model; raise ``ValueError`` on anything else."""
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError("event is not a JSON object")
    kind, version = raw.pop("type", None), raw.pop("version", None)
    model = (
        _REGISTRY.get((kind, version))
        if isinstance(kind, str) and isinstance(version, int)
        else None
    )
    if model is None:
        raise UnknownEventError(f"unknown event type/version: {kind!r}/{version!r}")
    return model.model_validate(raw)
