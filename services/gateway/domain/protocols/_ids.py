"""Ids for what Tollway writes itself (messages, calls, items of a translated answer)."""

from __future__ import annotations

import secrets

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    """``prefix`` + 24 random hex digits, the shape the providers use (``msg_…``, ``call_…``)."""
    return prefix + secrets.token_hex(12)
