"""Dispatcher settings from the environment; defaults match ``make run``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from schemas.admin_access import TokenBook
from schemas.settings import env_float, env_path, env_port, env_text, kafka_bootstrap
from schemas.webhooks import master_key

__all__ = ["DispatcherSettings"]

#: Seconds before each retry after a failed attempt: about two days in all, then the
#: delivery is marked failed. ``TOLLWAY_WEBHOOK_RETRY_S`` (comma-separated) replaces it.
DEFAULT_RETRIES_S = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)


def _retries() -> tuple[float, ...]:
    given = os.environ.get("TOLLWAY_WEBHOOK_RETRY_S")
    if not given:
        return tuple(float(s) for s in DEFAULT_RETRIES_S)
    retries = tuple(float(s) for s in given.split(","))
    if not retries or any(s < 0 for s in retries):
        raise ValueError("TOLLWAY_WEBHOOK_RETRY_S must be seconds, comma-separated, each >= 0")
    return retries


@dataclass(frozen=True)
class DispatcherSettings:
    kafka_bootstrap: str = field(default_factory=lambda: kafka_bootstrap())
    port: int = field(default_factory=lambda: env_port("TOLLWAY_DISPATCHER_PORT", 8084))
    host: str = field(default_factory=lambda: env_text("TOLLWAY_DISPATCHER_HOST", "127.0.0.1"))
    #: Who may read the delivery log: TOLLWAY_ADMIN_TOKEN and the tokens file.
    tokens: TokenBook = field(default_factory=TokenBook.from_environment)
    master: bytes = field(default_factory=lambda: master_key(env_path("TOLLWAY_DATA_DIR", "data")))
    retries_s: tuple[float, ...] = field(default_factory=_retries)
    #: One attempt's limit: connect, send, and the receiver's answer.
    timeout_s: float = field(default_factory=lambda: env_float("TOLLWAY_WEBHOOK_TIMEOUT_S", 10))
    #: Attempts in flight at once, over every webhook.
    concurrency: int = 32
