"""ClickHouse DDL: append-only, numbered migrations (``migrations/NNNN_name.sql``).

A migration is never edited once landed; a change is a new file. Each file is
idempotent (``IF NOT EXISTS``) and may hold several statements separated by
``;`` at the end of a line. Applying them is the metering service's job (it
owns the ClickHouse connection); this module only reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROLLUP_VIEWS", "Migration", "migrations"]

#: The refreshable views that fill the rollup tables (migration 0005), e.g. for
#: ``SYSTEM REFRESH VIEW`` when a caller needs the rollups up to date now.
ROLLUP_VIEWS = (
    "usage_hourly_refresh",
    "usage_daily_refresh",
    "revenue_hourly_refresh",
    "revenue_daily_refresh",
)

_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def _statements(sql: str) -> tuple[str, ...]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.M)
    return tuple(part.strip() for part in parts if part.strip())


def migrations() -> list[Migration]:
    """Every migration, in version order. Raises on a misnamed or duplicated file."""
    found: dict[int, Migration] = {}
    for path in sorted(_DIR.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file name must be NNNN_name.sql: {path.name}")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migrations numbered {version}")
        found[version] = Migration(version, match.group(2), _statements(path.read_text()))
    return [found[v] for v in sorted(found)]
