"""The committed contracts (JSON Schema, topics, migrations) agree with the code."""

import json

from schemas import asyncapi
from schemas.clickhouse import migrations
from schemas.events import event_models
from schemas.jsonschema import OUT_DIR, render_all
from schemas.topics import ACCOUNT_PARTITIONS, ALL_TOPICS, CLOCK


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
    # The clock is keyed by partition, but billing reads it with requests and commands.
    by_account = [t for t in ALL_TOPICS if t.key == "account_id" or t is CLOCK]
    assert {t.partitions for t in by_account} == {ACCOUNT_PARTITIONS}
    assert len({t.name for t in ALL_TOPICS}) == len(ALL_TOPICS)


def test_compacted_topics_are_the_state_topics() -> None:
    compacted = {t.name for t in ALL_TOPICS if t.compacted}
    assert compacted == {
        "tollway.account-status",
        "tollway.api-keys",
        "tollway.balances",
        "tollway.members",
        "tollway.prices",
        "tollway.webhooks",
        "tollway.webhook-deliveries",
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


def test_the_committed_asyncapi_document_matches_the_topics_and_events() -> None:
    assert asyncapi.OUT.read_text() == asyncapi.document(), "run `make schemas`"


def test_every_topic_is_documented_and_every_event_travels_on_one() -> None:
    assert set(asyncapi.CARRIES) == {t.name for t in ALL_TOPICS}
    carried = {e for _, events in asyncapi.CARRIES.values() for e in events}
    assert carried == set(event_models().values())


def test_the_grafana_dashboard_plots_series_the_services_serve() -> None:
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    dashboard = json.loads((root / "infra" / "grafana" / "tollway.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"tollway_[a-z_]+", e)}
    code = "\n".join(p.read_text() for p in (root / "services").rglob("metrics.py"))
    declared = set(re.findall(r'"(tollway_[a-z_]+)"', code))
    # A counter is served with _total, a histogram with _bucket, _sum and _count.
    served = declared | {f"{d}{s}" for d in declared for s in ("_total", "_bucket", "_count")}
    assert used and used <= served, sorted(used - served)
