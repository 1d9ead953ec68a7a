"""Prices: the catalog's as version "catalog", then every change from ``tollway.prices``.

Every billing process reads the whole (compacted, one-partition) prices topic:
prices are global, unlike accounts. A record holds every version of a model,
so a replay prices an old request at the version in force when it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.events import ModelPriced, PriceVersion, decode_event
from schemas.money import usd_to_nano
from schemas.topics import PRICES

from ..domain.pricing import PriceBook

__all__ = ["PriceFeed", "catalog_prices"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
                    version="catalog",
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


class PriceFeed:
    def __init__(self, bootstrap: str, book: PriceBook) -> None:
        self.bootstrap, self.book = bootstrap, book
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="price-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            isolation_level="read_committed",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            tp = TopicPartition(PRICES.name, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            while True:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        event = decode_event(record.value)
                        if isinstance(event, ModelPriced):
                            self.book.replace(
                                event.model,
                                [
                                    *[
                                        v
                                        for v in self.book.versions(event.model)
                                        if v.version == "catalog"
                                    ],
                                    *event.versions,
                                ],
                            )
                if not self.ready.is_set() and await consumer.position(tp) >= end:
                    self.ready.set()
        finally:
            await consumer.stop()
