"""API key records on the compacted ``tollway.api-keys`` topic (key: key_id).

Only a hash of the secret is ever written; ``prefix`` is the visible start of
the secret so a person can recognise a key. A revoked key stays as a record
with ``status="revoked"`` so that every gateway sees the revocation.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.limits import MAX_TOKENS
from schemas.money import MAX_BALANCE_NANO

from ._base import Event

__all__ = ["KEY_PREFIX_LENGTH", "ApiKeyRecorded", "ApiKeyStatus", "KeyPolicy", "SpendPeriod"]

#: Secrets look like ``tw_`` + 40 base62 characters; the first 12 characters
#: are the key's visible, indexed ``prefix``. A gateway finds the record by
#: prefix, then compares sha256 hashes in constant time.
KEY_PREFIX_LENGTH = 12

#: ``expired``: a key rotated out whose overlap has ended (billing marks it on a clock tick).
ApiKeyStatus = Literal["active", "revoked", "expired"]


#: What a key's spend limit counts: the current UTC day, the current UTC month, or all time.
SpendPeriod = Literal["day", "month", "total"]
#: The most models a key's allow-list names.
MAX_ALLOWED_MODELS = 100


class KeyPolicy(BaseModel):
    """What one key may do beyond its account's plan, as LiteLLM's virtual keys and
    OpenRouter's key limits offer. ``None`` means no limit of the key's own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Spend (charges, and the holds of requests in flight) per ``spend_period``.
    spend_limit_nano: int | None = Field(default=None, strict=True, ge=1, le=MAX_BALANCE_NANO)
    spend_period: SpendPeriod = "month"
    #: Model ids or aliases this key may call (None: every model).
    allowed_models: tuple[Annotated[str, Field(min_length=1, max_length=256)], ...] | None = Field(
        default=None, min_length=1, max_length=MAX_ALLOWED_MODELS
    )
    #: In place of the plan's, for this key.
    requests_per_minute: int | None = Field(default=None, ge=1, le=10**9)
    tokens_per_minute: int | None = Field(default=None, ge=1, le=MAX_TOKENS)


class ApiKeyRecorded(Event, type="api_key.recorded"):
    key_id: str = Field(min_length=1, max_length=64)
    account_id: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    prefix: str = Field(min_length=1, max_length=32)
    #: sha256 of the secret, lowercase hex.
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    status: ApiKeyStatus
    created_at: AwareDatetime
    #: Set at creation, or on a key being rotated out: valid until then, refused after.
    expires_at: AwareDatetime | None = None
    policy: KeyPolicy | None = None
    #: The key's spend in its period, holds included, has reached its limit: billing sets
    #: it and clears it (a new period, a hold released); every gateway refuses the key's
    #: model calls meanwhile.
    limit_reached: bool = False
    #: The member the key belongs to (None: the account's, made by an operator).
    member_id: str | None = Field(default=None, max_length=64)
    #: The member's developer access is revoked: every gateway refuses the key with 403
    #: ``developer_access_revoked`` until it is approved again.
    access_revoked: bool = False
