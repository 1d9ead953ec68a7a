"""Feeds the in-memory key and account stores from their compacted topics.

Every gateway instance follows ``tollway.api-keys``, ``tollway.account-status`` and
``tollway.prices`` (to tell clients what a request cost, as billing charges it) from the
beginning (``schemas.streams.TopicFollower``: no consumer group, ``read_committed`` since
billing writes them in transactions). The gateway is ready once the feed has reached the
end those topics had when it started; after that a revocation reaches every instance
within one fetch (well under a second).
"""

from __future__ import annotations

import logging

from schemas.events import AccountStatusChanged, ApiKeyRecorded, Event, ModelPriced
from schemas.prices import PriceBook
from schemas.streams import TopicFollower
from schemas.topics import ACCOUNT_STATUS, API_KEYS, PRICES

from ..domain.standing import AccountStore, KeyStore

__all__ = ["state_feed"]

log = logging.getLogger("tollway.gateway.state")


def state_feed(
    bootstrap: str, keys: KeyStore, accounts: AccountStore, prices: PriceBook
) -> TopicFollower:
    def apply(event: Event) -> None:
        if isinstance(event, ApiKeyRecorded):
            keys.apply(event)
        elif isinstance(event, AccountStatusChanged):
            accounts.apply(event)
        elif isinstance(event, ModelPriced):
            prices.apply(event)

    topics = (API_KEYS, ACCOUNT_STATUS, PRICES)
    return TopicFollower("state-feed", bootstrap, topics, apply, log)
