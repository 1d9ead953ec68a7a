"""Feeds the admin API's read model (``adapters/view.py``) from billing's topics: the
current account statuses, keys, webhooks, members and sessions, and the commands with their
results (the audit trail, and the answers the API waits on). Ready once the current state
is read to its end; the commands' history may still be arriving."""

from __future__ import annotations

import logging

from schemas.streams import TopicFollower
from schemas.topics import (
    ACCOUNT_STATUS,
    API_KEYS,
    BILLING_COMMANDS,
    COMMAND_RESULTS,
    MEMBERS,
    WEBHOOKS,
)

from ..adapters.view import AdminView

__all__ = ["view_feed"]

log = logging.getLogger("tollway.billing.view")


def view_feed(bootstrap: str, view: AdminView) -> TopicFollower:
    return TopicFollower(
        "admin-view",
        bootstrap,
        (ACCOUNT_STATUS, API_KEYS, WEBHOOKS, MEMBERS, BILLING_COMMANDS, COMMAND_RESULTS),
        view.apply,
        log,
        ready_after=(ACCOUNT_STATUS, API_KEYS, WEBHOOKS, MEMBERS),
        fetch_max_wait_ms=20,  # the admin API waits on command results read here
    )
