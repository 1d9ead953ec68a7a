"""The dispatcher's Kafka entrypoints, on FastStream: alerts arrive through a subscriber in
the ``tollway-dispatcher`` group (its offset committed once the alert's deliveries are
recorded; a failure to record re-reads it, an alert that cannot become a delivery is
logged and skipped, so one bad record never stalls the rest), deliveries are recorded
through the same broker, and the webhook registry is followed whole
(``schemas.streams.TopicFollower``)."""

from __future__ import annotations

import logging

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas.events import WebhookDelivery, decode_event, encode_event
from schemas.streams import TopicFollower
from schemas.topics import ALERTS, WEBHOOK_DELIVERIES, WEBHOOKS

from ..service_layer.dispatcher import Dispatcher

__all__ = ["GROUP", "broker_for", "subscribe_alerts", "webhook_feed"]

log = logging.getLogger("tollway.dispatcher.kafka")
GROUP = "tollway-dispatcher"


def broker_for(bootstrap: str) -> KafkaBroker:
    return KafkaBroker(
        bootstrap, acks="all", enable_idempotence=True, description="Tollway's webhook dispatcher"
    )


async def record(broker: KafkaBroker, delivery: WebhookDelivery) -> None:
    value, headers = encode_event(delivery)
    await broker.publish(
        value,
        WEBHOOK_DELIVERIES.name,
        key=delivery.delivery_id.encode(),
        headers={k: v.decode() for k, v in headers},
    )


def subscribe_alerts(broker: KafkaBroker, dispatcher: Dispatcher) -> None:
    @broker.subscriber(
        ALERTS.name,
        group_id=GROUP,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="alerts",
        description="Every account alert, turned into one delivery per webhook that wants it.",
    )
    async def on_alert(message: KafkaMessage) -> None:
        try:
            alert = decode_event(message.body)
        except ValueError:
            log.warning("an alert no schema reads; skipped")  # billing dead-letters its own
            return
        try:
            await dispatcher.on_alert(alert)
        except ValueError:  # an alert no delivery can be made of: a bug, never a stall
            log.exception("an alert could not become deliveries; skipped")
            dispatcher.skipped += 1


def webhook_feed(bootstrap: str, dispatcher: Dispatcher) -> TopicFollower:
    return TopicFollower("webhook-feed", bootstrap, (WEBHOOKS,), dispatcher.apply, log)
