"""The model catalog: public model ids and aliases -> upstream deployments, with prices.

Parsed from a TOML document (``adapters/catalog_file.py`` reads it; format in
docs/catalog.md, example in ``infra/catalog.toml``).
``route`` turns a requested model, a router preference and the ZDR requirement
into the ordered list of deployments to try; the caller fails over down that
list on connection errors, 5xx and timeouts before the first byte.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.events import PriceVersion
from schemas.money import usd_to_nano
from schemas.prices import CATALOG, EPOCH, PriceBook

from ..errors import BadRequest, ModelNotFound

__all__ = [
    "KINDS",
    "Catalog",
    "CatalogError",
    "Deployment",
    "Model",
    "Prices",
    "RouterPreference",
]

RouterPreference = Literal["balanced", "powerful", "efficient"]
_PREFERENCES = ("balanced", "powerful", "efficient")


class CatalogError(ValueError):
    """The catalog file is missing or wrong; the message names the entry."""


@dataclass(frozen=True)
class Prices:
    """nano-USD per 1M tokens."""

    input: int
    output: int
    cache_read: int
    cache_write: int = 0


#: The protocols an upstream can speak (see ``protocols/kinds.py``).
KINDS = ("openai-chat", "openai-responses", "anthropic")


@dataclass(frozen=True)
class Deployment:
    name: str
    base_url: str
    upstream_model: str
    api_key_env: str | None = None
    #: The key itself, from ``api_key_env`` in the environment the catalog was loaded with.
    api_key: str | None = field(default=None, repr=False)
    zdr: bool = False
    timeout_s: float = 60.0
    #: The protocol the upstream speaks: openai-chat (OpenAI, vLLM, SGLang),
    #: openai-responses (OpenAI's Responses API) or anthropic (native Messages).
    kind: str = "openai-chat"


@dataclass(frozen=True)
class Model:
    id: str
    prices: Prices
    deployments: tuple[Deployment, ...]
    aliases: tuple[str, ...] = ()
    streaming: bool = True
    tools: bool = True
    max_output_tokens: int = 16384
    context_window: int = 128000
    #: Relative strength, for router_preference over groups: higher is stronger.
    power: int = 1
    owned_by: str = "tollway"
    #: Refuse (400) a request for more output tokens than ``max_output_tokens`` instead of
    #: lowering it to the cap.
    strict_max_tokens: bool = False
    #: The model reasons: reasoning settings (effort, thinking) are kept when translating.
    reasoning: bool = False


@dataclass
class Catalog:
    models: dict[str, Model]
    aliases: dict[str, str] = field(default_factory=dict)
    #: Group id -> member model ids.
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Where a request without ``model`` goes (a group or model id); None: model is required.
    default_model: str | None = None
    _round_robin: dict[str, itertools.count[int]] = field(default_factory=dict)

    def resolve(self, requested: str | None) -> list[Model]:
        """Models a requested id may be served by (a group gives several)."""
        if requested is None:
            if self.default_model is None:
                raise BadRequest("Missing required parameter: 'model'.", param="model")
            requested = self.default_model
        if requested in self.groups:
            return [self.models[m] for m in self.groups[requested]]
        model_id = self.aliases.get(requested, requested)
        if model_id not in self.models:
            raise ModelNotFound(
                f"The model `{requested}` does not exist or you do not have access to it.",
                param="model",
            )
        return [self.models[model_id]]

    def route(
        self, requested: str | None, preference: str = "balanced", zdr_required: bool = False
    ) -> list[tuple[Model, Deployment]]:
        """Candidates in the order to try them."""
        if preference not in _PREFERENCES:
            raise BadRequest(
                f"router_preference must be one of {', '.join(_PREFERENCES)}",
                param="router_preference",
            )
        models = self.resolve(requested)
        if preference == "powerful":
            models.sort(key=lambda m: -m.power)
        elif preference == "efficient":
            models.sort(key=lambda m: (m.prices.input + m.prices.output, -m.power))
        candidates = [(m, d) for m in models for d in m.deployments if d.zdr or not zdr_required]
        if not candidates:
            raise BadRequest(
                f"No zero-data-retention deployment serves `{requested}`; "
                "drop the X-Tollway-ZDR header or pick another model.",
                param="model",
            )
        if preference == "balanced" and len(candidates) > 1:
            # Spread load: rotate the start, keep the rest as failover order.
            turn = next(self._round_robin.setdefault(str(requested), itertools.count()))
            start = turn % len(candidates)
            candidates = candidates[start:] + candidates[:start]
        return candidates

    def listing(self) -> list[Model]:
        return list(self.models.values())

    def price_book(self) -> PriceBook:
        """The catalog's prices as billing starts from them (changes then come from
        ``tollway.prices``): what the gateway tells clients a request cost."""
        return PriceBook(
            (
                model.id,
                PriceVersion(
                    version=CATALOG,
                    effective_from=EPOCH,
                    input_per_mtok_nano=model.prices.input,
                    output_per_mtok_nano=model.prices.output,
                    cache_read_per_mtok_nano=model.prices.cache_read,
                    cache_write_per_mtok_nano=model.prices.cache_write,
                ),
            )
            for model in self.models.values()
        )


def _expand(value: str, environ: Mapping[str, str]) -> str:
    """``${VAR}`` and ``${VAR:-default}`` from ``environ``."""

    def sub(match: re.Match[str]) -> str:
        name, _, default = match.group(1).partition(":-")
        return environ.get(name, default)

    return re.sub(r"\$\{([^}]+)\}", sub, value)


def _prices(raw: dict[str, Any], where: str) -> Prices:
    try:
        return Prices(
            input=usd_to_nano(str(raw["input"])),
            output=usd_to_nano(str(raw["output"])),
            cache_read=usd_to_nano(str(raw.get("cache_read", raw["input"]))),
            cache_write=usd_to_nano(str(raw.get("cache_write", 0))),
        )
    except (KeyError, ValueError) as exc:
        raise CatalogError(
            f"{where}: prices need input and output USD per 1M tokens ({exc})"
        ) from None


def _deployment(raw: dict[str, Any], where: str, environ: Mapping[str, str]) -> Deployment:
    kind = str(raw.get("kind", "openai-chat"))
    if kind not in KINDS:
        raise CatalogError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    try:
        return Deployment(
            name=str(raw["name"]),
            base_url=_expand(str(raw["base_url"]), environ).rstrip("/"),
            upstream_model=str(raw["upstream_model"]),
            api_key_env=raw.get("api_key_env"),
            api_key=environ.get(raw["api_key_env"]) if raw.get("api_key_env") else None,
            zdr=bool(raw.get("zdr", False)),
            timeout_s=float(raw.get("timeout_s", 60.0)),
            kind=kind,
        )
    except KeyError as exc:
        raise CatalogError(f"{where}: deployment needs {exc.args[0]}") from None


def parse(data: dict[str, Any], environ: Mapping[str, str] | None = None) -> Catalog:
    """The catalog in ``data`` (a parsed TOML document); ``environ`` fills ``${VAR}`` in
    base URLs and each deployment's ``api_key_env`` (``adapters/catalog_file.py`` passes
    the process's environment)."""
    environ = environ or {}
    models: dict[str, Model] = {}
    aliases: dict[str, str] = {}
    for i, raw in enumerate(data.get("models", [])):
        where = f"models[{i}] ({raw.get('id', '?')})"
        if "id" not in raw or not raw.get("deployments"):
            raise CatalogError(f"{where}: a model needs an id and at least one deployment")
        deployments = tuple(_deployment(d, where, environ) for d in raw["deployments"])
        names = [str(a) for a in raw.get("aliases", [])]
        vendor = raw.get("vendor")
        if vendor:  # `acme/<id>` names the model too, and so does `acme/<alias>`
            names += [f"{vendor}/{name}" for name in (raw["id"], *names)]
        model = Model(
            id=raw["id"],
            prices=_prices(raw.get("prices", {}), where),
            deployments=deployments,
            aliases=tuple(names),
            streaming=bool(raw.get("streaming", True)),
            tools=bool(raw.get("tools", True)),
            max_output_tokens=int(raw.get("max_output_tokens", 16384)),
            context_window=int(raw.get("context_window", 128000)),
            power=int(raw.get("power", 1)),
            owned_by=str(raw.get("owned_by") or vendor or "tollway"),
            strict_max_tokens=bool(raw.get("strict_max_tokens", False)),
            reasoning=bool(raw.get("reasoning", False)),
        )
        if model.max_output_tokens < 1:
            raise CatalogError(f"{where}: max_output_tokens must be at least 1")
        if model.id in models or model.id in aliases:
            raise CatalogError(f"{where}: id used twice")
        models[model.id] = model
        for alias in model.aliases:
            if alias in aliases or alias in models:
                raise CatalogError(f"{where}: alias {alias!r} used twice")
            aliases[alias] = model.id
    groups: dict[str, tuple[str, ...]] = {}
    for raw in data.get("groups", []):
        members = tuple(raw.get("members", []))
        unknown = [m for m in members if m not in models]
        if not members or unknown or raw.get("id") in models:
            raise CatalogError(f"group {raw.get('id')!r}: members must be known models ({unknown})")
        groups[str(raw["id"])] = members
    if not models:
        raise CatalogError("the catalog has no models")
    default = data.get("default_model")
    if default is not None and default not in groups and default not in models:
        raise CatalogError(f"default_model {default!r} is neither a model nor a group")
    return Catalog(models, aliases, groups, default_model=default)
