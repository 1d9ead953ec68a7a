"""``usage.cost`` in a streamed answer, as in a whole one: what billing will charge, added to
the usage object a stream ends with (OpenRouter's field; a JSON number written exactly)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from schemas.money import format_usd

from ..usage import Usage

__all__ = ["Costing"]


class Costing:
    """A writer's way to price a usage (set by the relay; unset, nothing is added), and the
    usage read so far, for a pass-through stream whose usage is the upstream's own."""

    def __init__(self) -> None:
        self.price: Callable[[Usage], int | None] = lambda _: None
        self.current: Callable[[], Usage | None] = lambda: None

    def add(self, usage_json: Any, usage: Usage | None = None) -> Any:
        """``usage_json`` with ``cost`` set, when it is an object and a price is known."""
        counted = usage if usage is not None else self.current()
        cost = self.price(counted) if counted is not None else None
        if cost is not None and isinstance(usage_json, dict):
            usage_json["cost"] = orjson.Fragment(format_usd(cost).encode())
        return usage_json
