"""Simulator settings, from ``SIM_*`` environment variables (defaults suit ``make run``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.settings import env_float, env_int, env_text

__all__ = ["SimSettings"]


def _models() -> tuple[str, ...]:
    raw = env_text("SIM_MODELS", "sim-small,sim-large,sim-zdr,sim-claude,sim-codex")
    return tuple(m.strip() for m in raw.split(",") if m.strip())


@dataclass(frozen=True)
class SimSettings:
    #: Time to first token and delay between tokens, milliseconds.
    ttft_ms: float = field(default_factory=lambda: env_float("SIM_TTFT_MS", 0))
    token_delay_ms: float = field(default_factory=lambda: env_float("SIM_TOKEN_DELAY_MS", 0))
    #: Tokens generated when max_tokens does not cap it.
    output_tokens: int = field(default_factory=lambda: env_int("SIM_OUTPUT_TOKENS", 20))
    cache_block: int = field(default_factory=lambda: env_int("SIM_CACHE_BLOCK", 64))
    models: tuple[str, ...] = field(default_factory=_models)
    #: The model name answers report (e.g. "redacted", as some providers do); unset: the
    #: model asked for.
    report_model: str | None = field(default_factory=lambda: env_text("SIM_REPORT_MODEL") or None)
    #: When set, requests must carry ``Authorization: Bearer <this>`` (or ``x-api-key``).
    api_key: str | None = field(default_factory=lambda: env_text("SIM_API_KEY") or None)
