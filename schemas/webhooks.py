"""Webhook signing secrets, derived where they are needed and never stored.

A webhook's secret is HMAC-SHA256(master key, webhook_id), in the Standard Webhooks form
``whsec_<base64>``: billing's admin API shows it once at registration, the dispatcher
derives it to sign each delivery, and neither writes it anywhere. The master key is
``TOLLWAY_WEBHOOK_KEY``, or a file ``make run`` creates once in the data folder.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from .settings import SettingError, env_text

__all__ = ["given_master_key", "master_key", "signing_secret"]


def signing_secret(master: bytes, webhook_id: str) -> str:
    digest = hmac.new(master, webhook_id.encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


#: Fewer bytes than this is a key someone typed, not one they generated.
MIN_KEY_BYTES = 16


def given_master_key() -> bytes | None:
    """``TOLLWAY_WEBHOOK_KEY`` (hex, at least 16 bytes), if set; a service reads it at
    startup so that a bad one stops it with the variable named."""
    given = env_text("TOLLWAY_WEBHOOK_KEY").strip()
    if not given:
        return None
    try:
        key = bytes.fromhex(given)
    except ValueError:
        key = b""
    if len(key) < MIN_KEY_BYTES:
        raise SettingError(
            f"TOLLWAY_WEBHOOK_KEY must be at least {MIN_KEY_BYTES} bytes written in hex "
            "(`openssl rand -hex 32` makes one)"
        )
    return key


def master_key(data_dir: Path) -> bytes:
    """``TOLLWAY_WEBHOOK_KEY``, else ``data_dir/webhook-key``, made once (owner-only)."""
    given = given_master_key()
    if given is not None:
        return given
    path = data_dir / "webhook-key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        try:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                f.write(key + "\n")
        except FileExistsError:  # another process made it first: use theirs
            return bytes.fromhex(path.read_text().strip())
        return bytes.fromhex(key)
