"""Simulator settings, from ``SIM_*`` environment variables (defaults suit ``make run``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["SimSettings"]


def _models() -> tuple[str, ...]:
    raw = os.environ.get("SIM_MODELS", "sim-small,sim-large,sim-zdr,sim-claude,sim-codex")
    return tuple(m.strip() for m in raw.split(",") if m.strip())


@dataclass(frozen=True)
class SimSettings:
    #: Time to first token and delay between tokens, milliseconds.
    ttft_ms: float = field(default_factory=lambda: float(os.environ.get("SIM_TTFT_MS", "0")))
    token_delay_ms: float = field(
        default_factory=lambda: float(os.environ.get("SIM_TOKEN_DELAY_MS", "0"))
    )
    #: Tokens generated when max_tokens does not cap it.
    output_tokens: int = field(
        default_factory=lambda: int(os.environ.get("SIM_OUTPUT_TOKENS", "20"))
    )
    cache_block: int = field(default_factory=lambda: int(os.environ.get("SIM_CACHE_BLOCK", "64")))
    models: tuple[str, ...] = field(default_factory=_models)
    #: The model name answers report (e.g. "redacted", as some providers do); unset: the
    #: model asked for.
    report_model: str | None = field(
        default_factory=lambda: os.environ.get("SIM_REPORT_MODEL") or None
    )
    #: When set, requests must carry ``Authorization: Bearer <this>`` (or ``x-api-key``).
    api_key: str | None = field(default_factory=lambda: os.environ.get("SIM_API_KEY") or None)
