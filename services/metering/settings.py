"""Metering settings from the environment; defaults match ``make run``."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.admin_access import TokenBook
from schemas.settings import env_path, env_port, env_text, kafka_bootstrap

__all__ = ["MeteringSettings"]


def _default_clickhouse_url() -> str:
    data = env_path("TOLLWAY_DATA_DIR", "data").resolve()
    return f"chdb://{data / 'clickhouse'}"


@dataclass(frozen=True)
class MeteringSettings:
    kafka_bootstrap: str = field(default_factory=lambda: kafka_bootstrap())
    clickhouse_url: str = field(  # may hold a password: kept out of repr
        default_factory=lambda: env_text("CLICKHOUSE_URL") or _default_clickhouse_url(),
        repr=False,
    )
    #: A server's user and password, when not in the URL (a password needs no encoding here).
    clickhouse_user: str = field(default_factory=lambda: env_text("CLICKHOUSE_USER"))
    clickhouse_password: str = field(
        default_factory=lambda: env_text("CLICKHOUSE_PASSWORD"), repr=False
    )
    clickhouse_database: str = field(
        default_factory=lambda: env_text("CLICKHOUSE_DATABASE", "tollway")
    )
    port: int = field(default_factory=lambda: env_port("TOLLWAY_METERING_PORT", 8082))
    #: 0.0.0.0 in a container; the default keeps a local run off the network.
    host: str = field(default_factory=lambda: env_text("TOLLWAY_METERING_HOST", "127.0.0.1"))
    #: Who may call the reporting API: TOLLWAY_ADMIN_TOKEN and the tokens file (no default).
    tokens: TokenBook = field(default_factory=TokenBook.from_environment)
    #: The Kafka consumer group: every instance writing to one ClickHouse shares it (they
    #: split the partitions); a second pipeline into another ClickHouse takes its own.
    group: str = field(
        default_factory=lambda: env_text("TOLLWAY_METERING_GROUP", "tollway-metering")
    )
