"""The catalog, read from its TOML file with the process's environment (``${VAR}`` in base
URLs, each deployment's ``api_key_env``)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from ..domain.catalog import Catalog, CatalogError, parse

__all__ = ["load"]


def load(path: Path, environ: Mapping[str, str] = os.environ) -> Catalog:
    try:
        return parse(tomllib.loads(path.read_text()), environ)
    except OSError as exc:
        raise CatalogError(f"cannot read the catalog {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"the catalog {path} is not valid TOML: {exc}") from None
