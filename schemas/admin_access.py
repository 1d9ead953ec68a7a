"""Who may call the admin APIs (billing's and metering's), and what each may do.

A contract between ``make run`` (which writes the local operator's token), the ``tollway``
CLI (which reads it), and the services (which check every call against it):

- ``TOLLWAY_ADMIN_TOKEN``: one token with every scope (named ``env``). ``make run`` sets it
  to the token it keeps in ``$TOLLWAY_DATA_DIR/admin-token``, made on its first run.
- ``TOLLWAY_ADMIN_TOKENS_FILE`` (default ``$TOLLWAY_DATA_DIR/admin-tokens.json``): named
  tokens with some scopes, stored as SHA-256 digests (``tollway tokens create`` adds one).
  Services read it again when it changes.

A service with no token at all does not start: there is no default token.

Scopes: ``operator`` (accounts, keys, money, prices; reads too), ``finance`` (reports,
usage, reconciliation), ``support`` (request trails, usage, balances). A call sends its
token as ``Authorization: Bearer <token>``; the caller's token name is recorded with every
command it writes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "SCOPES",
    "AccessDenied",
    "AdminToken",
    "Scope",
    "TokenBook",
    "add_token",
    "digest",
    "load_tokens",
    "local_token_file",
    "new_token",
    "revoke_token",
    "tokens_file",
]

Scope = Literal["operator", "finance", "support"]
SCOPES: tuple[Scope, ...] = ("operator", "finance", "support")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "twadm_" + secrets.token_urlsafe(32)


def _data_dir() -> Path:
    return Path(os.environ.get("TOLLWAY_DATA_DIR") or "data")


def local_token_file(data_dir: Path | None = None) -> Path:
    """Where ``make run`` keeps its operator token, and the CLI looks for it."""
    return (data_dir or _data_dir()) / "admin-token"


def tokens_file(data_dir: Path | None = None) -> Path:
    """TOLLWAY_ADMIN_TOKENS_FILE, else ``admin-tokens.json`` in the data folder."""
    given = os.environ.get("TOLLWAY_ADMIN_TOKENS_FILE")
    return Path(given) if given else (data_dir or _data_dir()) / "admin-tokens.json"


log = logging.getLogger("tollway.admin_access")


class AccessDenied(Exception):
    """A call refused: 401 (no token of ours) or 403 (the token lacks the scope)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class AdminToken:
    name: str
    scopes: frozenset[str]
    sha256: str


class TokenBook:
    """The tokens a service accepts: the environment's, and the file's (re-read on change)."""

    def __init__(self, env_token: str | None, file: Path) -> None:
        self._env = AdminToken("env", frozenset(SCOPES), digest(env_token)) if env_token else None
        self._file = file
        self._mtime: float | None = None
        self._listed: list[AdminToken] = []
        self._unreadable = ""  # why the file, as it stands, cannot be read

    @classmethod
    def from_environment(cls) -> TokenBook:
        return cls(os.environ.get("TOLLWAY_ADMIN_TOKEN") or None, tokens_file())

    def configured(self) -> bool:
        return self._env is not None or bool(self._tokens())

    def _tokens(self) -> list[AdminToken]:
        try:
            mtime = self._file.stat().st_mtime
        except OSError:  # no file: no tokens from it
            self._unreadable = ""
            return []
        if mtime != self._mtime:
            try:
                self._listed, self._unreadable = load_tokens(self._file), ""
            except ValueError as exc:
                # Closed, not the old list: an edit that revokes a token must not leave it
                # working because the edit also broke the file.
                self._listed, self._unreadable = [], str(exc)
                log.error("every token of the tokens file is refused until it is fixed: %s", exc)
            self._mtime = mtime
        return self._listed

    def require(self) -> None:
        """Refuse to serve with no token at all (there is no default), or with a tokens file
        that cannot be read (its tokens would be refused without a word)."""
        if self._env is None and not self._tokens() and self._unreadable:
            raise ValueError(self._unreadable)
        if not self.configured():
            raise ValueError(
                "no admin token: set TOLLWAY_ADMIN_TOKEN or TOLLWAY_ADMIN_TOKENS_FILE "
                "(`make run` makes one in its data folder)"
            )

    def authorize(self, authorization: str, *scopes: str) -> AdminToken:
        """The caller's token, if it has one of ``scopes``; else ``AccessDenied``."""
        token = self.identify(authorization)
        if token is None:
            raise AccessDenied(
                401,
                "invalid_admin_token",
                "A valid admin token is required (Authorization: Bearer <token>; `make run` "
                "keeps its own in data/admin-token).",
            )
        if not token.scopes & set(scopes):
            needs = (
                f"no {scopes[0]} scope"
                if len(scopes) == 1
                else f"none of the scopes this needs: {', '.join(scopes)}"
            )
            raise AccessDenied(403, "insufficient_scope", f"The token '{token.name}' has {needs}.")
        return token

    def identify(self, authorization: str) -> AdminToken | None:
        """The token an ``Authorization`` header carries, if it is one of ours."""
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return None
        wanted = digest(given.strip())
        found = None
        for token in [self._env, *self._tokens()]:
            # Every candidate is compared, in constant time, whatever matched before.
            if token is not None and hmac.compare_digest(token.sha256, wanted):
                found = token
        return found


def _entries(path: Path) -> list[dict[str, Any]]:
    """The tokens file's entries as written (none if there is no file)."""
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text()).get("tokens", [])
        if not isinstance(entries, list):
            raise TypeError("'tokens' is not a list")
        return entries
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None


def load_tokens(path: Path) -> list[AdminToken]:
    """The named tokens of a tokens file (``ValueError`` if it cannot be read)."""
    try:
        return [
            AdminToken(str(t["name"]), frozenset(t["scopes"]) & frozenset(SCOPES), t["sha256"])
            for t in _entries(path)
        ]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"cannot read {path}: {exc!r}") from None


def _write(path: Path, entries: list[Any]) -> None:
    """The tokens file with ``entries``, owner-only, written whole and renamed into place:
    services re-read it when it changes and must never see half of it (they would refuse
    every token until the next change)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    with os.fdopen(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(json.dumps({"tokens": entries}, indent=2) + "\n")
    os.replace(fresh, path)


def _named(entries: list[Any], name: str) -> list[Any]:
    return [t for t in entries if isinstance(t, dict) and t.get("name") == name]


def add_token(path: Path, name: str, scopes: list[str], *, replace: bool = False) -> str:
    """Add a token named ``name`` with ``scopes`` to the tokens file (made readable by its
    owner only); its secret, which only its digest is kept of. ``replace``: a token of that
    name is replaced (its old secret stops working) rather than refused."""
    entries = _entries(path)
    named = _named(entries, name)
    if named and not replace:
        raise ValueError(f"a token named {name!r} exists already in {path}")
    secret = new_token()
    entries = [t for t in entries if t not in named]
    entries.append({"name": name, "scopes": sorted(set(scopes)), "sha256": digest(secret)})
    _write(path, entries)
    return secret


def revoke_token(path: Path, name: str) -> None:
    """Remove the token named ``name`` from the tokens file: every service refuses it from
    the next call on (they re-read the file when it changes)."""
    entries = _entries(path)
    named = _named(entries, name)
    if not named:
        raise ValueError(f"no token named {name!r} in {path}")
    _write(path, [t for t in entries if t not in named])
