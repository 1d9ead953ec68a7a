"""The catalog's prices, as version "catalog" of each model (changes then come from
``tollway.prices``, see ``entrypoints/price_feed.py``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from schemas.events import PriceVersion
from schemas.money import usd_to_nano
from schemas.prices import CATALOG, EPOCH

__all__ = ["catalog_prices"]


def catalog_prices(path: Path) -> list[tuple[str, PriceVersion]]:
    """The ``[models.prices]`` of each catalog model (USD per 1M tokens, as text)."""
    data = tomllib.loads(path.read_text())
    out = []
    for model in data.get("models", []):
        prices = model.get("prices", {})
        out.append(
            (
                str(model["id"]),
                PriceVersion(
                    version=CATALOG,
                    effective_from=EPOCH,
                    input_per_mtok_nano=usd_to_nano(str(prices["input"])),
                    output_per_mtok_nano=usd_to_nano(str(prices["output"])),
                    cache_read_per_mtok_nano=usd_to_nano(
                        str(prices.get("cache_read", prices["input"]))
                    ),
                    cache_write_per_mtok_nano=usd_to_nano(str(prices.get("cache_write", 0))),
                ),
            )
        )
    return out
