"""The AsyncAPI 3.0 document of Tollway's topics (``schemas/asyncapi.json``): each topic,
who writes and who reads it, and the events it carries with their JSON Schema, as FastStream
describes a Kafka application.

Run ``python -m schemas.asyncapi`` (``make schemas``) after changing a topic or an event; a
unit test fails while the committed document differs. Every event's body also carries its
``type`` and ``version`` (``encode_event``), which the payloads here include.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Union

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import create_model

from . import topics as t
from .events import (
    AccountSnapshot,
    AccountStatusChanged,
    ApiKeyRecorded,
    BalanceRanLow,
    ClockTicked,
    Command,
    CommandResult,
    DeveloperAccessRequested,
    Event,
    EventParked,
    KeyLimitReached,
    KeyUsageReported,
    LedgerEntryRecorded,
    MemberRecorded,
    ModelPriced,
    QuotaUsed,
    RequestCompleted,
    RequestStarted,
    SessionRecorded,
    WebhookDelivery,
    WebhookRecorded,
    event_models,
)

__all__ = ["CARRIES", "document", "main"]

OUT = Path(__file__).parent / "asyncapi.json"

#: Per topic: what it is for (who writes, who reads) and the events it carries. The dead
#: letter topic carries what could not be read, as it came.
CARRIES: dict[str, tuple[str, tuple[type[Event], ...]]] = {
    t.REQUESTS.name: (
        "Written by every gateway (idempotent, spooled when Kafka is away); read by billing "
        "(exactly-once) and metering.",
        (RequestStarted, RequestCompleted),
    ),
    t.BILLING_COMMANDS.name: (
        "Operators' commands, written by billing's admin API; applied by billing's consumer.",
        tuple(m for m in event_models().values() if issubclass(m, Command)),
    ),
    t.CLOCK.name: (
        "Ticks billing writes to each partition it owns; read back by billing.",
        (ClockTicked,),
    ),
    t.LEDGER.name: (
        "Every balance movement, written by billing in its transactions; read by metering.",
        (LedgerEntryRecorded,),
    ),
    t.ACCOUNT_STATUS.name: (
        "Each account's status and balance after each batch (compacted); read by every "
        "gateway and billing's admin view.",
        (AccountStatusChanged,),
    ),
    t.API_KEYS.name: (
        "Every API key's record (compacted); read by every gateway and billing's admin view.",
        (ApiKeyRecorded,),
    ),
    t.BALANCES.name: (
        "Billing's changelog (compacted): an account's whole state, restored on assignment.",
        (AccountSnapshot,),
    ),
    t.PRICES.name: (
        "Price versions per model (compacted), written by the admin API; read by billing.",
        (ModelPriced,),
    ),
    t.COMMAND_RESULTS.name: (
        "Billing's answer to each command; read by the admin API that waits on it.",
        (CommandResult,),
    ),
    t.ALERTS.name: (
        "Low balances, monthly quotas at 80 % and 100 %, keys at their spend limit, "
        "developer access requested and parked events, written by billing and metering; read "
        "by the webhook dispatcher.",
        (BalanceRanLow, QuotaUsed, KeyLimitReached, DeveloperAccessRequested, EventParked),
    ),
    t.MEMBERS.name: (
        "Accounts' members and their sign-in sessions (compacted), written by billing; read "
        "by billing's admin view, which signs members in.",
        (MemberRecorded, SessionRecorded),
    ),
    t.WEBHOOKS.name: (
        "Where each account's alerts go (compacted), written by billing's admin API; read by "
        "the dispatcher and billing's admin view.",
        (WebhookRecorded,),
    ),
    t.WEBHOOK_DELIVERIES.name: (
        "Each webhook delivery's latest state (compacted): the dispatcher's work list across "
        "restarts and its delivery log.",
        (WebhookDelivery,),
    ),
    t.KEY_USAGE.name: (
        "Each gateway's recent use of rate-limited keys; read by every other gateway.",
        (KeyUsageReported,),
    ),
    t.DEAD_LETTER.name: (
        "Records no consumer could read, as they came, with the reason in the headers.",
        (),
    ),
}


def _on_the_wire(model: type[Event]) -> Any:
    """``model`` with the ``type`` and ``version`` fields its encoded body carries."""
    kind: Any = Literal[model.TYPE]
    version: Any = Literal[model.VERSION]
    return create_model(
        model.__name__ + "Message",  # the event itself may be nested in another's payload
        __base__=model,
        __module__=model.__module__,
        type=(kind, ...),
        version=(version, ...),
    )


def document() -> str:
    broker = KafkaBroker("kafka:9092", description="Tollway's Kafka cluster")
    for topic in t.ALL_TOPICS:
        purpose, events = CARRIES[topic.name]
        keyed = f" Key: {topic.key}; {topic.partitions} partition(s)"
        keyed += ", compacted." if topic.compacted else "."
        payload = Union[tuple(_on_the_wire(e) for e in events)] if events else bytes  # noqa: UP007
        broker.publisher(topic.name, title=topic.name, description=purpose + keyed, schema=payload)
    spec = AsyncAPI(broker, title="Tollway topics", version="1", schema_version="3.0.0")
    return json.dumps(spec.to_specification().to_jsonable(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    OUT.write_text(document())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
