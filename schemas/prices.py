"""Prices and costs: pure integer arithmetic in nano-USD. Billing charges with it; the
gateway shows clients the same cost (``usage.cost``) with it, so the two cannot differ.

A charge is priced at the price version in effect when the request started,
input (uncached), output, cache-read and cache-write tokens each at their own
rate per 1M tokens, and rounded once: the exact total is divided by 10**6 and
rounded half to even. The per-kind parts shown beside it are each rounded the
same way and are for reading only; the charge is the total.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from .events import ModelPriced, PriceVersion
from .money import hold_nano

__all__ = [
    "CATALOG",
    "EPOCH",
    "Charge",
    "PriceBook",
    "UnknownPrice",
    "div_half_even",
    "hold_for",
    "price_charge",
]

PER = 1_000_000  # prices are per 1M tokens
#: The version name of the catalog's prices, in force from the start of time until changed.
CATALOG = "catalog"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UnknownPrice(LookupError):
    """No price for a model at a time."""


def div_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half to even, for non-negative integers."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


@dataclass(frozen=True)
class Charge:
    total_nano: int
    input_nano: int
    output_nano: int
    cache_read_nano: int
    cache_write_nano: int
    price_version: str


def price_charge(
    price: PriceVersion,
    prompt_tokens: int,
    completion_tokens: int,
    cache_read_tokens: int,
    cache_write_tokens: int,
) -> Charge:
    """The cost of one request. ``prompt_tokens`` includes the cache parts (Tollway's meaning)."""
    uncached = max(prompt_tokens - cache_read_tokens - cache_write_tokens, 0)
    parts = (
        uncached * price.input_per_mtok_nano,
        completion_tokens * price.output_per_mtok_nano,
        cache_read_tokens * price.cache_read_per_mtok_nano,
        cache_write_tokens * price.cache_write_per_mtok_nano,
    )
    inp, out, read, write = (div_half_even(p, PER) for p in parts)
    return Charge(div_half_even(sum(parts), PER), inp, out, read, write, price.version)


def hold_for(price: PriceVersion, prompt_estimate: int, max_output_tokens: int) -> int:
    """What to hold for a request (the one formula, shared with the gateway's reservations)."""
    return hold_nano(
        prompt_estimate, max_output_tokens, price.input_per_mtok_nano, price.output_per_mtok_nano
    )


class PriceBook:
    """Every price version of every model; answers "what was the price of M at time T"."""

    def __init__(self, versions: Iterable[tuple[str, PriceVersion]] = ()) -> None:
        self._by_model: dict[str, list[PriceVersion]] = {}
        for model, version in versions:
            self.add(model, version)

    def add(self, model: str, version: PriceVersion) -> None:
        versions = [v for v in self._by_model.get(model, []) if v.version != version.version]
        versions.append(version)
        versions.sort(key=lambda v: v.effective_from)
        self._by_model[model] = versions

    def replace(self, model: str, versions: Iterable[PriceVersion]) -> None:
        self._by_model[model] = sorted(versions, key=lambda v: v.effective_from)

    def apply(self, event: ModelPriced) -> None:
        """A ``tollway.prices`` record: every version it names, beside the catalog's own."""
        catalog = [v for v in self.versions(event.model) if v.version == CATALOG]
        self.replace(event.model, [*catalog, *event.versions])

    def versions(self, model: str) -> list[PriceVersion]:
        return list(self._by_model.get(model, []))

    def models(self) -> list[str]:
        return sorted(self._by_model)

    def at(self, model: str, when: datetime) -> PriceVersion:
        versions = self._by_model.get(model)
        if not versions:
            raise UnknownPrice(f"no price for model {model!r}")
        index = bisect.bisect_right([v.effective_from for v in versions], when) - 1
        if index < 0:
            raise UnknownPrice(f"no price for model {model!r} at {when.isoformat()}")
        return versions[index]
