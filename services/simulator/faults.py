"""Faults the simulator can be told to inject, for tests of the gateway's failure paths.

Set through ``POST /_sim/faults`` (all matching requests, or the next
``count``), or per request with ``x-sim-*`` headers when calling it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Fault", "FaultBook"]

#: garbled: a 200 whose usage and finish_reason have the wrong types (the answer is fine);
#: unreadable: a 200 whose body (or one streamed chunk) is JSON of the wrong shape.
FaultMode = Literal["status", "timeout", "drop", "slow", "garbled", "unreadable"]


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: FaultMode
    #: HTTP status for mode=status.
    status: int = Field(default=503, ge=400, le=599)
    #: For mode=drop: chunks sent before the connection is cut.
    after_chunks: int = Field(default=2, ge=0)
    #: For mode=slow: delay between streamed tokens, milliseconds.
    token_delay_ms: float = Field(default=200.0, ge=0, le=60000)
    #: For mode=timeout: how long to hang before answering nothing.
    hang_seconds: float = Field(default=300.0, gt=0, le=3600)
    #: Only requests for this upstream model; None = any.
    model: str | None = None
    #: How many requests to affect; None = until cleared.
    count: int | None = Field(default=None, ge=1)


@dataclass
class FaultBook:
    faults: list[Fault]

    def take(self, model: str) -> Fault | None:
        """The fault for a request to ``model``, consuming one use of it."""
        for i, fault in enumerate(self.faults):
            if fault.model not in (None, model):
                continue
            if fault.count is not None:
                left = fault.count - 1
                if left == 0:
                    del self.faults[i]
                else:
                    self.faults[i] = fault.model_copy(update={"count": left})
            return fault
        return None
