"""What each gateway tells the others about the rate limits its callers used, on
``tollway.key-usage`` (key: producer), so that a key's limits hold across instances."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ._base import Event

__all__ = ["KeyUsageReported", "KeyUse"]


class KeyUse(BaseModel):
    """What one key took from its limits on one gateway since that gateway's last report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(min_length=1, max_length=64)
    requests: int = Field(ge=0, strict=True)
    #: Net: negative when requests used fewer tokens than their admission took.
    tokens: int = Field(strict=True)
    #: The key's limits as the reporting gateway applied them (every gateway holds the same
    #: account status; carrying them spares the reader a lookup).
    requests_per_minute: int | None = Field(default=None, ge=1, strict=True)
    tokens_per_minute: int | None = Field(default=None, ge=1, strict=True)


class KeyUsageReported(Event, type="key_usage.reported"):
    """A gateway's use of rate-limited keys over its last short interval (~100 ms)."""

    #: The reporting gateway process (its request events carry the same ``producer``).
    producer: str = Field(min_length=1, max_length=64)
    uses: tuple[KeyUse, ...] = Field(min_length=1, max_length=10_000)
