"""Events and requests for tests and benchmarks, valid by default: name only what a test is
about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.events import RequestStarted

__all__ = ["WEATHER", "started"]

T0 = datetime(2026, 11, 22, tzinfo=UTC)

# An Anthropic tool the agents-style tests offer the model.
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def started(**given: Any) -> RequestStarted:
    """A ``request.started`` of ``acc_1``'s key ``key_1`` for model ``m``, changed by ``given``."""
    fields: dict[str, Any] = {
        "request_id": "req_1",
        "account_id": "acc_1",
        "key_id": "key_1",
        "model": "m",
        "deployment": "d",
        "surface": "openai.chat",
        "stream": False,
        "prompt_tokens_estimate": 1,
        "occurred_at": T0,
    }
    return RequestStarted(**(fields | given))
