"""The admin API's request bodies, strictly typed, with the limits ``schemas`` states once
(names, reasons, idempotency keys, amounts): what the API takes, the CLI sends and the
events hold are the same. Unknown fields are refused, so a typo is a 400, not a no-op."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from schemas.events import KeyPolicy, MemberRole, Plan, SpendPeriod
from schemas.events.api_keys import MAX_ALLOWED_MODELS
from schemas.events.members import EMAIL_MAX
from schemas.limits import (
    IDEMPOTENCY_KEY_MAX,
    MAX_TOKENS,
    NAME_MAX,
    ROTATION_OVERLAP_MAX_S,
    Name,
    Reason,
    printable,
)
from schemas.money import MAX_MOVEMENT_NANO, MAX_PRICE_NANO, format_usd, usd_to_nano

from ..errors import BadRequest

__all__ = [
    "AccessIn",
    "AccountIn",
    "AdjustIn",
    "KeyIn",
    "MemberIn",
    "PasswordIn",
    "PriceIn",
    "ReactivateIn",
    "ReasonIn",
    "RotateIn",
    "SignInIn",
    "TopUpIn",
    "WebhookIn",
    "parse",
]

B = TypeVar("B", bound=BaseModel)


def _nano(value: Any) -> int:
    if isinstance(value, float):
        raise ValueError(
            'must be a decimal string such as "10.50", not a JSON number with a fraction '
            "(floats cannot hold money exactly)"
        )
    return usd_to_nano(value)


def _movement(nano: int) -> int:
    if nano == 0:
        raise ValueError("must not be zero")
    if abs(nano) > MAX_MOVEMENT_NANO:
        raise ValueError(f"must be at most {format_usd(MAX_MOVEMENT_NANO)} USD either way")
    return nano


def _positive(nano: int) -> int:
    if nano <= 0:
        raise ValueError("must be greater than zero")
    return nano


def _price(nano: int) -> int:
    if not 0 <= nano <= MAX_PRICE_NANO:
        raise ValueError(f"must be from 0 to {format_usd(MAX_PRICE_NANO)} USD per 1M tokens")
    return nano


Usd = Annotated[int, BeforeValidator(_nano)]
Movement = Annotated[Usd, AfterValidator(_movement)]
Price = Annotated[Usd, AfterValidator(_price)]
IdempotencyKey = Annotated[
    str, Field(min_length=1, max_length=IDEMPOTENCY_KEY_MAX), AfterValidator(printable)
]
KeyName = Annotated[str, Field(max_length=NAME_MAX), AfterValidator(printable)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


#: A plan's name (``domain/plans.py``), or the plan itself.
PlanField = Annotated[str, Field(min_length=1, max_length=64)] | Plan


class AccountIn(_Body):
    name: Name
    plan: PlanField | None = None
    idempotency_key: IdempotencyKey | None = None


class PlanIn(_Body):
    plan: PlanField
    reason: Reason = ""
    idempotency_key: IdempotencyKey | None = None


def _limit(nano: int) -> int:
    if not 0 < nano <= MAX_MOVEMENT_NANO:
        raise ValueError(f"must be above zero and at most {format_usd(MAX_MOVEMENT_NANO)} USD")
    return nano


def _future(when: datetime) -> datetime:
    if when <= datetime.now(UTC):
        raise ValueError("must be in the future")
    return when


class KeyIn(_Body):
    name: KeyName = ""
    #: USD the key may spend per ``spend_period`` (charges and the holds of its requests).
    spend_limit_usd: Annotated[Usd, AfterValidator(_limit)] | None = None
    spend_period: SpendPeriod = "month"
    allowed_models: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        default=None, min_length=1, max_length=MAX_ALLOWED_MODELS
    )
    requests_per_minute: Annotated[int, Field(ge=1, le=10**9)] | None = None
    tokens_per_minute: Annotated[int, Field(ge=1, le=MAX_TOKENS)] | None = None
    #: ISO 8601 with a zone (a string: strict mode reads no datetime from JSON otherwise).
    expires_at: Annotated[AwareDatetime, AfterValidator(_future)] | None = Field(
        default=None, strict=False
    )

    def policy(self) -> KeyPolicy | None:
        limits: dict[str, Any] = {
            "spend_limit_nano": self.spend_limit_usd,
            "allowed_models": tuple(self.allowed_models) if self.allowed_models else None,
            "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
        }
        if all(v is None for v in limits.values()):
            return None
        return KeyPolicy(spend_period=self.spend_period, **limits)


class WebhookIn(_Body):
    url: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(printable)]
    #: Alert types (default: every one).
    events: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default=[], max_length=20
    )


class RotateIn(_Body):
    overlap_seconds: Annotated[int, Field(ge=0, le=ROTATION_OVERLAP_MAX_S)] | None = None


# -- members ---------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: NIST SP 800-63B: at least 8 characters (we ask 12), and long passphrases allowed.
PASSWORD_MIN, PASSWORD_MAX = 12, 256


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must be an email address such as dev@example.com")
    return value.lower()


Email = Annotated[str, Field(min_length=3, max_length=EMAIL_MAX), AfterValidator(_email)]
Password = Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX)]
NewPassword = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]


class MemberIn(_Body):
    email: Email
    role: MemberRole = "developer"
    idempotency_key: IdempotencyKey | None = None


class SignInIn(_Body):
    email: Email
    password: Password


class PasswordIn(_Body):
    current_password: Password
    new_password: NewPassword


class AccessIn(_Body):
    note: Annotated[str, Field(max_length=500), AfterValidator(printable)] = ""


class ReasonIn(_Body):
    reason: Reason = ""
    idempotency_key: IdempotencyKey | None = None


class ReactivateIn(_Body):
    idempotency_key: IdempotencyKey | None = None


class TopUpIn(_Body):
    amount_usd: Annotated[Movement, AfterValidator(_positive)]
    idempotency_key: IdempotencyKey | None = None


class AdjustIn(_Body):
    amount_usd: Movement
    reason: Annotated[Reason, Field(min_length=1)]
    refund: bool = False
    idempotency_key: IdempotencyKey | None = None


class PriceIn(_Body):
    input: Price
    output: Price
    cache_read: Price
    cache_write: Price = 0
    effective_from: str | None = None


#: Names pydantic gives the branches of a union in an error's location.
_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "Plan"})


def _path(raw: Any, loc: tuple[int | str, ...]) -> str:
    """The part of pydantic's location that names a place in the body (not union tags)."""
    parts: list[str] = []
    node = raw
    for part in loc:
        inside = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if inside:
            node = node[part]
            parts.append(str(part))
        elif isinstance(part, str) and part.isidentifier() and part not in _TAGS:
            parts.append(part)  # a missing or unknown field: name it, then stop
            break
    return ".".join(parts)


def parse(model: type[B], raw: dict[str, Any]) -> B:
    """``model`` from a body, or a 400 naming the first field at fault."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = _path(raw, first["loc"])
        detail = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            detail = "is required"
        elif first["type"] == "extra_forbidden":
            detail = "is not a field of this request"
        code = "invalid_amount" if param.endswith("amount_usd") else None
        raise BadRequest(f"'{param}' {detail}.", param or None, code) from None
