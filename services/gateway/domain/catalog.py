"""The model catalog: public model ids and aliases -> upstream deployments, with prices.

Loaded from a TOML file (format in the README, example in ``infra/catalog.toml``).
``route`` turns a requested model, a router preference and the ZDR requirement
into the ordered list of deployments to try; the caller fails over down that
list on connection errors, 5xx and timeouts before the first byte.
"""

from __future__ import annotations

import itertools
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from schemas.money import usd_to_nano

from ..errors import BadRequest, ModelNotFound

__all__ = ["Catalog", "CatalogError", "Deployment", "Model", "Prices", "RouterPreference", "load"]

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


@dataclass(frozen=True)
class Deployment:
    name: str
    base_url: str
    upstream_model: str
    api_key_env: str | None = None
    zdr: bool = False
    timeout_s: float = 60.0

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


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


@dataclass
class Catalog:
    models: dict[str, Model]
    aliases: dict[str, str] = field(default_factory=dict)
    #: Group id -> member model ids.
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _round_robin: dict[str, itertools.count[int]] = field(default_factory=dict)

    def resolve(self, requested: str) -> list[Model]:
        """Models a requested id may be served by (a group gives several)."""
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
        self, requested: str, preference: str = "balanced", zdr_required: bool = False
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
            turn = next(self._round_robin.setdefault(requested, itertools.count()))
            start = turn % len(candidates)
            candidates = candidates[start:] + candidates[:start]
        return candidates

    def listing(self) -> list[Model]:
        return list(self.models.values())


def _expand(value: str) -> str:
    """``${VAR}`` and ``${VAR:-default}`` from the environment."""

    def sub(match: re.Match[str]) -> str:
        name, _, default = match.group(1).partition(":-")
        return os.environ.get(name, default)

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


def _deployment(raw: dict[str, Any], where: str) -> Deployment:
    try:
        return Deployment(
            name=str(raw["name"]),
            base_url=_expand(str(raw["base_url"])).rstrip("/"),
            upstream_model=str(raw["upstream_model"]),
            api_key_env=raw.get("api_key_env"),
            zdr=bool(raw.get("zdr", False)),
            timeout_s=float(raw.get("timeout_s", 60.0)),
        )
    except KeyError as exc:
        raise CatalogError(f"{where}: deployment needs {exc.args[0]}") from None


def parse(data: dict[str, Any]) -> Catalog:
    models: dict[str, Model] = {}
    aliases: dict[str, str] = {}
    for i, raw in enumerate(data.get("models", [])):
        where = f"models[{i}] ({raw.get('id', '?')})"
        if "id" not in raw or not raw.get("deployments"):
            raise CatalogError(f"{where}: a model needs an id and at least one deployment")
        deployments = tuple(_deployment(d, where) for d in raw["deployments"])
        model = Model(
            id=raw["id"],
            prices=_prices(raw.get("prices", {}), where),
            deployments=deployments,
            aliases=tuple(raw.get("aliases", [])),
            streaming=bool(raw.get("streaming", True)),
            tools=bool(raw.get("tools", True)),
            max_output_tokens=int(raw.get("max_output_tokens", 16384)),
            context_window=int(raw.get("context_window", 128000)),
            power=int(raw.get("power", 1)),
            owned_by=str(raw.get("owned_by", "tollway")),
        )
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
    return Catalog(models, aliases, groups)


def load(path: Path) -> Catalog:
    try:
        return parse(tomllib.loads(path.read_text()))
    except OSError as exc:
        raise CatalogError(f"cannot read the catalog {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"the catalog {path} is not valid TOML: {exc}") from None
