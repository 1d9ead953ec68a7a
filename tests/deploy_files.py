"""The deployment files (``infra/deploy``) as their tests and the suite's containers read
them: compose's services and the Kubernetes manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEPLOY", "compose", "manifests"]

DEPLOY = Path(__file__).resolve().parents[1] / "infra" / "deploy"


def compose() -> dict[str, Any]:
    """``compose.yaml``, whole (its ``services`` by name)."""
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def manifests() -> list[dict[str, Any]]:
    """Every document of ``k8s/tollway.yaml``."""
    return [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "tollway.yaml").read_text()) if d]
