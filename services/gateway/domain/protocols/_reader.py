"""What every upstream stream reader keeps for the relay (the ``kinds.Reader`` protocol)."""

from __future__ import annotations

from typing import Any

from ..conversation import StopReason, StreamEvent
from ..usage import Usage

__all__ = ["ReaderState"]


class ReaderState:
    """The generated text (counted when the upstream reports no usage), whether the stream
    said it is complete, and the latest usage and stop reason it reported."""

    def __init__(self) -> None:
        self.generated: list[str] = []
        self.finished = False
        self.usage: Usage | None = None
        self.stop: StopReason | None = None

    def feed(self, event: dict[str, Any]) -> list[StreamEvent]:
        raise NotImplementedError

    def tally(self, event: dict[str, Any]) -> None:
        """For a stream passed through: reading it whole is cheap enough to keep one path."""
        self.feed(event)
