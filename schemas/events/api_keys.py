"""API key records on the compacted ``tollway.api-keys`` topic (key: key_id).

Only a hash of the secret is ever written; ``prefix`` is the visible start of
the secret so a person can recognise a key. A revoked key stays as a record
with ``status="revoked"`` so that every gateway sees the revocation.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from ._base import Event

__all__ = ["KEY_PREFIX_LENGTH", "ApiKeyRecorded", "ApiKeyStatus"]

#: Secrets look like ``tw_`` + 40 base62 characters; the first 12 characters
#: are the key's visible, indexed ``prefix``. A gateway finds the record by
#: prefix, then compares sha256 hashes in constant time.
KEY_PREFIX_LENGTH = 12

ApiKeyStatus = Literal["active", "revoked"]


class ApiKeyRecorded(Event):
    TYPE: ClassVar[str] = "api_key.recorded"
    VERSION: ClassVar[int] = 1

    key_id: str = Field(min_length=1, max_length=64)
    account_id: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    prefix: str = Field(min_length=1, max_length=32)
    #: sha256 of the secret, lowercase hex.
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    status: ApiKeyStatus
    created_at: AwareDatetime
    #: Set on a key being rotated out: valid until then, refused after.
    expires_at: AwareDatetime | None = None
