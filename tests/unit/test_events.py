import time
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.events import (
    LedgerEntryRecorded,
    RequestCompleted,
    RequestStarted,
    TopUp,
    UnknownEventError,
    decode_event,
    encode_event,
    event_models,
    new_id,
)
from tests.factories import started


def _started() -> RequestStarted:
    return started(stream=True, max_tokens=10, prompt_tokens_estimate=5)


def test_every_event_round_trips_through_kafka_bytes() -> None:
    event = _started()
    value, headers = encode_event(event)
    assert dict(headers) == {"type": b"request.started", "version": b"1"}
    assert decode_event(value) == event


def test_events_get_distinct_time_sortable_ids() -> None:
    ids = [new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert ids[0][:8] <= ids[-1][:8]  # the leading 48 bits are milliseconds
    for text in ids[:50]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert abs((parsed.int >> 80) - time.time() * 1000) < 5_000


def test_money_fields_refuse_floats() -> None:
    with pytest.raises(ValidationError):
        TopUp(account_id="a", idempotency_key="k", amount_nano=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        TopUp(account_id="a", idempotency_key="k", amount_nano=0)


def test_ledger_amounts_are_integers() -> None:
    entry = LedgerEntryRecorded(
        entry_id="e",
        account_id="a",
        kind="charge",
        amount_nano=-3,
        balance_after_nano=7,
        cause_event_id="x",
    )
    assert isinstance(decode_event(encode_event(entry)[0]), LedgerEntryRecorded)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"type":"request.started","version":99}', "unknown event"),
        (b'{"version":1}', "unknown event"),
    ],
)
def test_decode_refuses_what_is_not_a_known_event(raw: bytes, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        decode_event(raw)


def test_decode_refuses_unknown_fields() -> None:
    value, _ = encode_event(_started())
    tampered = value.replace(b'"stream":true', b'"stream":true,"prompt":"secret"')
    with pytest.raises(ValidationError):
        decode_event(tampered)


def test_unknown_event_error_is_a_value_error() -> None:
    assert issubclass(UnknownEventError, ValueError)


def test_every_event_has_an_event_id_and_a_unique_type_version() -> None:
    models = event_models()
    assert len(models) >= 12
    for model in models.values():
        assert "event_id" in model.model_fields


def test_completed_requires_token_counts_as_integers() -> None:
    with pytest.raises(ValidationError):
        RequestCompleted(
            request_id="r",
            account_id="a",
            key_id="k",
            model="m",
            deployment="d",
            surface="openai.chat",
            stream=False,
            started_at=datetime.now(UTC),
            status="succeeded",
            http_status=200,
            prompt_tokens=-1,
            completion_tokens=0,
            cache_read_tokens=0,
            cache_write_tokens=0,
            usage_source="upstream",
            latency_ms=1,
        )
