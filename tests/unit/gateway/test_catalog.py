from pathlib import Path

import pytest

from services.gateway.domain.catalog import CatalogError, load, parse
from services.gateway.errors import BadRequest, ModelNotFound

REPO = Path(__file__).resolve().parents[3]


def _catalog() -> dict:
    dep = {"base_url": "http://u/v1", "upstream_model": "m"}
    return {
        "models": [
            {
                "id": "small",
                "aliases": ["mini"],
                "power": 1,
                "prices": {"input": "0.1", "output": "0.2"},
                "deployments": [{**dep, "name": "s1"}, {**dep, "name": "s2", "zdr": True}],
            },
            {
                "id": "big",
                "power": 5,
                "prices": {"input": "3", "output": "15", "cache_read": "0.3"},
                "deployments": [{**dep, "name": "b1"}],
            },
        ],
        "groups": [{"id": "auto", "members": ["big", "small"]}],
    }


def test_the_shipped_catalog_loads() -> None:
    catalog = load(REPO / "infra" / "catalog.toml")
    assert "sim-small" in catalog.models and catalog.aliases["gpt-4o-mini"] == "sim-small"


def test_prices_are_exact_nano_usd() -> None:
    big = parse(_catalog()).models["big"]
    assert (big.prices.input, big.prices.output, big.prices.cache_read) == (
        3_000_000_000,
        15_000_000_000,
        300_000_000,
    )
    assert parse(_catalog()).models["small"].prices.cache_read == 100_000_000  # defaults to input


def test_aliases_resolve_and_unknown_models_are_404() -> None:
    catalog = parse(_catalog())
    assert catalog.route("mini", "powerful")[0][0].id == "small"
    with pytest.raises(ModelNotFound):
        catalog.route("gpt-9")


def test_preferences_order_a_group() -> None:
    catalog = parse(_catalog())
    assert [m.id for m, _ in catalog.route("auto", "powerful")] == ["big", "small", "small"]
    assert [m.id for m, _ in catalog.route("auto", "efficient")] == ["small", "small", "big"]
    with pytest.raises(BadRequest) as raised:
        catalog.route("auto", "fastest")
    assert raised.value.param == "router_preference"


def test_balanced_rotates_the_first_choice_and_keeps_the_rest_for_failover() -> None:
    catalog = parse(_catalog())
    firsts = [catalog.route("small")[0][1].name for _ in range(4)]
    assert firsts == ["s1", "s2", "s1", "s2"]
    assert {d.name for _, d in catalog.route("small")} == {"s1", "s2"}


def test_zdr_keeps_only_zdr_deployments_or_says_why() -> None:
    catalog = parse(_catalog())
    assert [d.name for _, d in catalog.route("small", zdr_required=True)] == ["s2"]
    with pytest.raises(BadRequest, match="zero-data-retention"):
        catalog.route("big", zdr_required=True)


def test_environment_expands_in_base_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM", "http://x:1/v1")
    raw = _catalog()
    raw["models"][1]["deployments"][0]["base_url"] = "${UPSTREAM}"
    raw["models"][0]["deployments"][0]["base_url"] = "${NOT_SET:-http://fallback/v1}/"
    catalog = parse(raw)
    assert catalog.models["big"].deployments[0].base_url == "http://x:1/v1"
    assert catalog.models["small"].deployments[0].base_url == "http://fallback/v1"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["models"][0].pop("deployments"), "deployment"),
        (lambda c: c["models"][0].update(prices={"input": "x", "output": "1"}), "prices"),
        (lambda c: c["models"][1].update(aliases=["mini"]), "alias"),
        (lambda c: c["groups"][0].update(members=["ghost"]), "group"),
        (lambda c: c.update(models=[], groups=[]), "no models"),
    ],
)
def test_bad_catalogs_name_the_entry(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    raw = _catalog()
    mutate(raw)
    with pytest.raises(CatalogError, match=message):
        parse(raw)


def test_unreadable_or_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[models]\n")
    with pytest.raises(CatalogError, match="not valid TOML"):
        load(bad)
