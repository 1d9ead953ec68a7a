"""Generate the JSON Schema of every event into ``schemas/jsonschema/``.

Run ``python -m schemas.jsonschema`` after changing an event model; a unit
test fails while the committed files differ from the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.events import event_models

OUT_DIR = Path(__file__).parent / "jsonschema"


def render_all() -> dict[str, str]:
    """File name -> JSON text, for every registered event."""
    files: dict[str, str] = {}
    for (kind, version), model in sorted(event_models().items()):
        schema: dict[str, Any] = model.model_json_schema(mode="serialization")
        props = {
            "type": {"const": kind},
            "version": {"const": version},
            **schema.get("properties", {}),
        }
        schema["properties"] = props
        # Producers always write every field (defaults included), so all are required.
        schema["required"] = sorted(props)
        schema["$id"] = f"https://tollway.dev/schemas/{kind}.v{version}.json"
        files[f"{kind}.v{version}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def main() -> None:
    OUT_DIR.mkdir(exist_ok=True)
    wanted = render_all()
    for stale in set(p.name for p in OUT_DIR.glob("*.json")) - wanted.keys():
        (OUT_DIR / stale).unlink()
    for name, text in wanted.items():
        (OUT_DIR / name).write_text(text)
    print(f"wrote {len(wanted)} schemas to {OUT_DIR}")


if __name__ == "__main__":
    main()
