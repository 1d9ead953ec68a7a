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

from .events import BalanceRanLow, DeveloperAccessRequested, EventParked, KeyLimitReached, QuotaUsed

__all__ = ["ALERT_TYPES", "master_key", "signing_secret"]

#: What a webhook may receive (billing checks a registration against it; the console
#: offers it).
ALERT_TYPES = (
    BalanceRanLow.TYPE,
    QuotaUsed.TYPE,
    KeyLimitReached.TYPE,
    DeveloperAccessRequested.TYPE,
    EventParked.TYPE,
)


def signing_secret(master: bytes, webhook_id: str) -> str:
    digest = hmac.new(master, webhook_id.encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


def master_key(data_dir: Path) -> bytes:
    """``TOLLWAY_WEBHOOK_KEY`` (hex), else ``data_dir/webhook-key``, made once (owner-only)."""
    given = os.environ.get("TOLLWAY_WEBHOOK_KEY")
    if given:
        return bytes.fromhex(given)
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
