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


def test_a_password_given_apart_replaces_the_urls_and_needs_no_encoding() -> None:
    """What a deployment does with a generated password (``openssl rand -base64``)."""
    target = parse_url("http://clickhouse:8123/?database=tollway", "tollway", "tollway", "a/b+c=")
    assert (target.username, target.password, target.host) == ("tollway", "a/b+c=", "clickhouse")
    assert "a/b+c=" not in repr(target)


@pytest.mark.parametrize(
    "url", ["http://tollway:ab/cd@clickhouse:8123/", "http://u:a#b@h/", "https://u:p?q@h:1/"]
)
def test_an_unencoded_password_is_a_setting_error_that_does_not_echo_it(url: str) -> None:
    with pytest.raises(ConfigError, match="percent-encoded") as refused:
        parse_url(url)
    assert "ab/cd" not in str(refused.value) and "a#b" not in str(refused.value)


def test_a_url_of_another_scheme_is_named_without_its_password() -> None:
    with pytest.raises(ConfigError, match=r"clickhouse://\*\*\*@ch:9000") as refused:
        parse_url("clickhouse://admin:hunter2@ch:9000")
    assert "hunter2" not in str(refused.value)
