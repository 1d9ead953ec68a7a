from pathlib import Path

import pytest

from services.metering.adapters.clickhouse import parse_url
from services.metering.errors import ConfigError


def test_chdb_url_with_absolute_folder() -> None:
    target = parse_url("chdb:///var/lib/tollway/ch")
    assert (target.kind, target.path, target.database) == (
        "chdb",
        Path("/var/lib/tollway/ch"),
        "tollway",
    )


def test_chdb_url_with_relative_folder_resolves_against_cwd() -> None:
    assert parse_url("chdb://data/ch").path == Path("data/ch").resolve()


def test_http_url_with_credentials_and_database() -> None:
    target = parse_url("https://finance:s%40cret@ch.example:9440/?database=billing")
    assert (target.kind, target.host, target.port, target.secure) == (
        "http",
        "ch.example",
        9440,
        True,
    )
    assert (target.username, target.password, target.database) == ("finance", "s@cret", "billing")


def test_http_url_default_port() -> None:
    assert parse_url("http://localhost").port == 8123


@pytest.mark.parametrize("url", ["", "postgres://x", "chdb://", "http://"])
def test_bad_urls_say_what_is_wrong(url: str) -> None:
    with pytest.raises(ConfigError, match="CLICKHOUSE_URL"):
        parse_url(url)
