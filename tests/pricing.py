"""What a request must cost, recomputed independently of billing's code: the shipped catalog's
prices (USD per 1M tokens) times the usage a response reported, rounded once, half to even."""

from __future__ import annotations

import tomllib
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

__all__ = ["CATALOG", "cost_nano", "exact_cost", "openai_cost", "openai_cost_of_dict"]

CATALOG = tomllib.loads((Path(__file__).parents[1] / "infra" / "catalog.toml").read_text())


def _prices(model_or_alias: str) -> dict[str, Decimal]:
    for model in CATALOG["models"]:
        if model_or_alias == model["id"] or model_or_alias in model.get("aliases", []):
            return {k: Decimal(v) for k, v in model["prices"].items()}
    raise KeyError(model_or_alias)


def exact_cost(model: str, uncached_in: int, cached_in: int, out: int, written: int = 0) -> Decimal:
    """USD per 1M tokens is nano-USD per 1,000 tokens; not rounded yet."""
    p = _prices(model)
    return (
        uncached_in * p["input"]
        + cached_in * p.get("cache_read", p["input"])
        + written * p.get("cache_write", Decimal(0))
        + out * p["output"]
    ) * 1000


def cost_nano(model: str, uncached_in: int, cached_in: int, out: int, written: int = 0) -> int:
    """One charge: rounded once, half to even."""
    exact = exact_cost(model, uncached_in, cached_in, out, written)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def openai_cost(model: str, usage: Any) -> int:
    """From an OpenAI SDK ``usage`` object."""
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0
    return cost_nano(model, usage.prompt_tokens - cached, cached, usage.completion_tokens)


def openai_cost_of_dict(model: str, usage: dict[str, Any]) -> int:
    """From the ``usage`` JSON object of an OpenAI-shaped response or final stream chunk."""
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return cost_nano(model, usage["prompt_tokens"] - cached, cached, usage["completion_tokens"])
