"""The one registry of Kafka topics. Infra creates them from here; services name them from here.

Partition counts of the topics keyed by account_id must stay equal: billing
relies on co-partitioning to see an account's commands and usage in one
consumer, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ACCOUNT_PARTITIONS",
    "ACCOUNT_STATUS",
    "ALERTS",
    "ALL_TOPICS",
    "API_KEYS",
    "BALANCES",
    "BILLING_COMMANDS",
    "CLOCK",
    "COMMAND_RESULTS",
    "DEAD_LETTER",
    "KEY_USAGE",
    "LEDGER",
    "MEMBERS",
    "PRICES",
    "REQUESTS",
    "WEBHOOKS",
    "WEBHOOK_DELIVERIES",
    "Topic",
]

#: Partitions of every topic keyed by account_id (co-partitioned).
ACCOUNT_PARTITIONS = 6


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    partitions: int
    compacted: bool = False
    #: Extra topic-level configs (Kafka names), applied at creation.
    configs: dict[str, str] = field(default_factory=dict)

    def kafka_configs(self) -> dict[str, str]:
        base = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.compacted:
            # Compact soon after a segment rolls so the topic a gateway replays
            # at start stays small; tombstones kept a day for slow readers.
            base |= {
                "min.cleanable.dirty.ratio": "0.1",
                "segment.ms": "600000",
                "delete.retention.ms": "86400000",
            }
        return base | self.configs


REQUESTS = Topic("tollway.requests", key="account_id", partitions=ACCOUNT_PARTITIONS)
BILLING_COMMANDS = Topic(
    "tollway.billing-commands", key="account_id", partitions=ACCOUNT_PARTITIONS
)
LEDGER = Topic("tollway.ledger", key="account_id", partitions=ACCOUNT_PARTITIONS)
ACCOUNT_STATUS = Topic(
    "tollway.account-status", key="account_id", partitions=ACCOUNT_PARTITIONS, compacted=True
)
API_KEYS = Topic("tollway.api-keys", key="key_id", partitions=3, compacted=True)
BALANCES = Topic(
    "tollway.balances", key="account_id", partitions=ACCOUNT_PARTITIONS, compacted=True
)
#: Prices are global, not per account: every billing consumer reads the whole
#: topic, so a price change reaches the owner of every account.
PRICES = Topic("tollway.prices", key="model", partitions=1, compacted=True)
#: Low-balance alerts billing raises for operators and notifiers.
ALERTS = Topic("tollway.alerts", key="account_id", partitions=ACCOUNT_PARTITIONS)
#: Billing's answer to each command (applied, duplicate, rejected and why).
COMMAND_RESULTS = Topic("tollway.command-results", key="account_id", partitions=ACCOUNT_PARTITIONS)
#: Each gateway's recent use of rate-limited keys, read by every other gateway (no consumer
#: group) so a key's limits hold across instances. Only the last minutes matter.
KEY_USAGE = Topic(
    "tollway.key-usage", key="producer", partitions=1, configs={"retention.ms": "600000"}
)
#: Clock ticks billing writes to each partition it owns (``clock.tick``), co-partitioned with
#: requests and commands so an account's time passes in order with its events. Only ticks
#: after a consumer's committed offsets are ever read again: a week is plenty.
CLOCK = Topic(
    "tollway.clock",
    key="partition",
    partitions=ACCOUNT_PARTITIONS,
    configs={"retention.ms": str(7 * 24 * 3600 * 1000)},
)
#: Where each account's alerts go (``webhook.recorded``), written by billing's admin API.
WEBHOOKS = Topic("tollway.webhooks", key="webhook_id", partitions=1, compacted=True)
#: Each webhook delivery's latest state (``webhook.delivery``): the dispatcher's work list
#: across restarts, and the delivery log.
WEBHOOK_DELIVERIES = Topic(
    "tollway.webhook-deliveries", key="delivery_id", partitions=1, compacted=True
)
#: Accounts' members (``member.recorded``, key member_id) and their sign-in sessions
#: (``member.session``, key session_id), written by billing with the account's changes.
MEMBERS = Topic("tollway.members", key="member_id or session_id", partitions=3, compacted=True)
#: Events no consumer could parse, with the reason in the headers.
DEAD_LETTER = Topic("tollway.dead-letter", key="source topic", partitions=1)

ALL_TOPICS: tuple[Topic, ...] = (
    REQUESTS,
    BILLING_COMMANDS,
    CLOCK,
    LEDGER,
    ACCOUNT_STATUS,
    API_KEYS,
    BALANCES,
    PRICES,
    COMMAND_RESULTS,
    ALERTS,
    DEAD_LETTER,
    KEY_USAGE,
    WEBHOOKS,
    WEBHOOK_DELIVERIES,
    MEMBERS,
)
