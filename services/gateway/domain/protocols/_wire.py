"""What every protocol's wire types share: strict validation that names the param at fault.

Wire models are strict (``"stream": "false"`` is not a boolean, ``5`` is not a string) and
let unknown fields through: a request that validates is forwarded as it came, so what an
upstream receives is what was checked. Content blocks are tagged unions that check the
block types they know and let other types through for the upstream to judge
(``tagged``): providers add block types faster than any gateway can list them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, ValidationError

from ...errors import BadRequest

__all__ = ["Wire", "tagged", "validate"]

T = TypeVar("T", bound=BaseModel)


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


def tagged(known: dict[str, type[BaseModel]], other: type[BaseModel]) -> Any:
    """A union over ``known`` block types chosen by the ``type`` field; any other type (or a
    block that is not an object) validates against ``other``."""

    def pick(value: Any) -> str:
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        return "~" + kind if isinstance(kind, str) and kind in known else "~"

    # Tags start with "~" so an error's location never mistakes one for a field name.
    members = [Annotated[model, Tag("~" + name)] for name, model in known.items()]
    members.append(Annotated[other, Tag("~")])
    return Annotated[Union[tuple(members)], Discriminator(pick)]  # noqa: UP007


Style = Callable[[str | None, str], str]


def openai_style(param: str | None, detail: str) -> str:
    return f"Invalid value for '{param}': {detail}." if param else f"{detail}."


def anthropic_style(param: str | None, detail: str) -> str:
    """Anthropic words validation errors as ``<path>: <what is wrong>``."""
    return f"{param}: {detail}" if param else detail


def validate(model: type[T], body: Any, style: Style = openai_style) -> T:
    """``model`` from a parsed JSON body, or a ``BadRequest`` naming the first bad param."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        # The deepest error: in a union (``str | list[Part]``) it is the branch the value
        # took (a list), not the one it never meant (a string).
        first = max(exc.errors(include_url=False), key=lambda e: len(e["loc"]))
        param = _param_path(body, first["loc"])
        detail = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            if style is anthropic_style:
                raise BadRequest(f"{param}: Field required", param=param) from None
            raise BadRequest(f"Missing required parameter: '{param}'.", param=param) from None
        raise BadRequest(style(param, detail), param=param) from None


def _param_path(body: Any, loc: tuple[int | str, ...]) -> str | None:
    """The part of pydantic's ``loc`` that names a place in the body (not union tags)."""
    parts: list[str] = []
    node = body
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str):
            if part in node:
                node = node[part]
                parts.append(part)
            elif part.isidentifier() and not _is_tag(part):
                parts.append(part)  # a missing field: name it, then stop
                break
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            parts.append(str(part))
    return ".".join(parts) or None


def _is_tag(part: str) -> bool:
    return (
        part in {"str", "int", "float", "bool", "list", "dict", "none"}
        or part[0].isupper()
        or part.startswith(("_", "~"))
        or "[" in part
    )
