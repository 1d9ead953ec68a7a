"""The committed contracts (JSON Schema, topics, migrations) agree with the code."""

import json

from schemas.clickhouse import migrations
from schemas.jsonschema import OUT_DIR, render_all
from schemas.topics import ACCOUNT_PARTITIONS, ALL_TOPICS


def test_committed_json_schemas_match_the_models() -> None:
    wanted = render_all()
    committed = {p.name: p.read_text() for p in OUT_DIR.glob("*.json")}
    assert committed.keys() == wanted.keys(), "run `make schemas` and commit the result"
    for name, text in wanted.items():
        assert committed[name] == text, f"{name} drifted from its model: run `make schemas`"


def test_json_schemas_name_type_and_version() -> None:
    for text in render_all().values():
        schema = json.loads(text)
        assert {"type", "version", "event_id"} <= set(schema["required"])


def test_topics_keyed_by_account_are_co_partitioned() -> None:
    by_account = [t for t in ALL_TOPICS if t.key == "account_id"]
    assert {t.partitions for t in by_account} == {ACCOUNT_PARTITIONS}
    assert len({t.name for t in ALL_TOPICS}) == len(ALL_TOPICS)


def test_compacted_topics_are_the_state_topics() -> None:
    compacted = {t.name for t in ALL_TOPICS if t.compacted}
    assert compacted == {
        "tollway.account-status",
        "tollway.api-keys",
        "tollway.balances",
        "tollway.prices",
    }
    for topic in ALL_TOPICS:
        policy = topic.kafka_configs()["cleanup.policy"]
        assert policy == ("compact" if topic.compacted else "delete")


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    found = migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    for migration in found:
        assert migration.statements
        assert all("IF NOT EXISTS" in s for s in migration.statements if s.startswith("CREATE"))
