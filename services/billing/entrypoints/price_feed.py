"""Price changes, from ``tollway.prices`` into the price book.

Every billing process follows the whole (compacted, one-partition) prices topic: prices
are global, unlike accounts. A record holds every version of a model besides the
catalog's, so a replay prices an old request at the version in force when it started.
"""

from __future__ import annotations

import logging

from schemas.events import Event, ModelPriced
from schemas.prices import PriceBook
from schemas.streams import TopicFollower
from schemas.topics import PRICES

__all__ = ["price_feed"]

log = logging.getLogger("tollway.billing.prices")


def price_feed(bootstrap: str, book: PriceBook) -> TopicFollower:
    def apply(event: Event) -> None:
        if isinstance(event, ModelPriced):
            book.apply(event)

    return TopicFollower("price-feed", bootstrap, (PRICES,), apply, log)
