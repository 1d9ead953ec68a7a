"""API key secrets: made here, shown once, kept only as a hash."""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass

from schemas.events import KEY_PREFIX_LENGTH

__all__ = ["NewKey", "digest", "new_key"]

_ALPHABET = string.ascii_letters + string.digits


def digest(secret: str) -> str:
    """What is kept of a secret (an API key, a session token): its sha256, lowercase hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key_id: str
    secret: str

    @property
    def prefix(self) -> str:
        return self.secret[:KEY_PREFIX_LENGTH]

    @property
    def key_hash(self) -> str:
        return digest(self.secret)


def new_key() -> NewKey:
    """``tw_`` + 40 base62 characters (~238 bits); the key id is random and public."""
    secret = "tw_" + "".join(secrets.choice(_ALPHABET) for _ in range(40))
    return NewKey("key_" + secrets.token_hex(8), secret)
