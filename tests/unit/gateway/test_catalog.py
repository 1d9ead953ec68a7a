from pathlib import Path

import pytest

from services.gateway.adapters.catalog_file import load
from services.gateway.domain.catalog import CatalogError, parse
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


def test_the_environment_fills_base_urls_and_api_keys(tmp_path: Path) -> None:
    environ = {"UPSTREAM": "http://x:1/v1", "BIG_KEY": "sk-secret"}
    raw = _catalog()
    raw["models"][1]["deployments"][0] |= {"base_url": "${UPSTREAM}", "api_key_env": "BIG_KEY"}
    raw["models"][0]["deployments"][0]["base_url"] = "${NOT_SET:-http://fallback/v1}/"
    catalog = parse(raw, environ)
    big = catalog.models["big"].deployments[0]
    assert (big.base_url, big.api_key) == ("http://x:1/v1", "sk-secret")
    assert "sk-secret" not in repr(big)  # a deployment may be logged; its key never
    assert catalog.models["small"].deployments[0].base_url == "http://fallback/v1"
    assert catalog.models["small"].deployments[0].api_key is None
    file = tmp_path / "catalog.toml"
    file.write_text(
        '[[models]]\nid = "m"\nprices = {input = "1", output = "1"}\n'
        '[[models.deployments]]\nname = "d"\nbase_url = "${UPSTREAM}"\n'
        'upstream_model = "u"\napi_key_env = "BIG_KEY"\n'
    )
    loaded = load(file, environ).models["m"].deployments[0]
    assert (loaded.base_url, loaded.api_key) == ("http://x:1/v1", "sk-secret")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["models"][0].pop("deployments"), "deployment"),
        (lambda c: c["models"][0].update(prices={"input": "x", "output": "1"}), "prices"),
        (lambda c: c["models"][1].update(aliases=["mini"]), "alias"),
        (lambda c: c["groups"][0].update(members=["ghost"]), "group"),
        (lambda c: c.update(models=[], groups=[]), "no models"),
        (lambda c: c["models"][0]["deployments"][0].update(kind="grpc"), "kind must be one of"),
        (lambda c: c.update(default_model="ghost"), "default_model"),
        (lambda c: c["models"][0].update(max_output_tokens=0), "max_output_tokens"),
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


def test_upstream_kinds_vendor_prefixes_and_the_default_model() -> None:
    raw = _catalog()
    raw["default_model"] = "auto"
    raw["models"][1]["vendor"] = "acme"
    raw["models"][1]["deployments"][0]["kind"] = "anthropic"
    catalog = parse(raw)
    assert catalog.models["big"].deployments[0].kind == "anthropic"
    assert catalog.models["small"].deployments[0].kind == "openai-chat"
    assert catalog.resolve("acme/big") == [catalog.models["big"]]
    assert catalog.models["big"].owned_by == "acme"
    assert [m.id for m in catalog.resolve(None)] == ["big", "small"]
    del raw["default_model"]
    with pytest.raises(BadRequest) as missing:
        parse(raw).resolve(None)
    assert missing.value.param == "model"
