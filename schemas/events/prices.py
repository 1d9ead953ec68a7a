"""Model prices on the compacted ``tollway.prices`` topic (key: model).

A record holds every price version of one model, so compaction never loses
history a replay needs: a request is priced at the version in effect when it
started, even after a later change.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.money import PriceNanoUSD

from ._base import Event

__all__ = ["ModelPriced", "PriceVersion"]


class PriceVersion(BaseModel):
    """Prices in nano-USD per 1M tokens, in force from ``effective_from``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1, max_length=64)
    effective_from: AwareDatetime
    input_per_mtok_nano: PriceNanoUSD
    output_per_mtok_nano: PriceNanoUSD
    cache_read_per_mtok_nano: PriceNanoUSD
    cache_write_per_mtok_nano: PriceNanoUSD = 0


class ModelPriced(Event, type="model.priced"):
    model: str = Field(min_length=1, max_length=256)
    versions: tuple[PriceVersion, ...] = Field(min_length=1)
