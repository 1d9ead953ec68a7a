"""The console's pure pieces: usage rows as chart series, the CSRF check, the finance
form's period, and the security of the pages themselves (no script, escaped names)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from services.console.adapters.charts import bar_chart
from services.console.domain.usage import by_field, by_token_kind, usage_totals
from services.console.entrypoints.session import CSRF, Refused, check_form, csrf_field
from services.console.entrypoints.staff_pages import _last_day_shown, _usd_columns
from services.console.settings import ConsoleSettings

ROWS: list[dict[str, Any]] = [
    {"day": "2026-12-02", "model": "b", "key_id": "k1", "requests": 2, "prompt_tokens": 100,
     "cache_read_tokens": 40, "completion_tokens": 10, "cost": "0.000001000"},
    {"day": "2026-12-01", "model": "a", "key_id": "k2", "requests": 1, "prompt_tokens": 5,
     "cache_read_tokens": 0, "completion_tokens": 7, "cost": "0.500000000"},
    {"day": "2026-12-02", "model": "a", "key_id": "k1", "requests": 1, "prompt_tokens": 1,
     "cache_read_tokens": 1, "completion_tokens": 1, "cost": "0.000000001"},
]  # fmt: skip


def test_series_split_tokens_by_kind_and_keep_money_in_nano_usd() -> None:
    kinds = by_token_kind(ROWS)
    assert kinds.days == ["2026-12-01", "2026-12-02"]
    assert kinds.values == {
        "input (uncached)": [5, 60],
        "cache read": [0, 41],
        "output": [7, 11],
    }
    money = by_field(ROWS, "model", "cost")
    assert money.values == {"a": [500_000_000, 1], "b": [0, 1_000]}
    by_key = by_field(ROWS, "key_id", "tokens")
    assert by_key.values == {"k1": [0, 112], "k2": [12, 0]}
    assert usage_totals(ROWS) == {
        "requests": 4,
        "prompt_tokens": 106,
        "cache_read_tokens": 41,
        "completion_tokens": 18,
        "cost_nano": 500_001_001,
    }


def test_a_chart_is_svg_without_script_and_with_names_escaped() -> None:
    svg = bar_chart(
        "t",
        by_field([r | {"model": "<script>x</script>"} for r in ROWS], "model", "cost"),
        usd=True,
    )
    assert svg.startswith("<svg") and "<script" not in svg
    assert "&lt;script&gt;" in svg


def _request(headers: dict[str, str], cookie: str | None) -> Request:
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    if cookie is not None:
        raw.append((b"cookie", f"{CSRF}={cookie}".encode()))
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw})


def test_the_csrf_value_is_bound_to_the_browser_and_the_origin_to_the_console() -> None:
    settings = ConsoleSettings(service_token="t", secret=b"s" * 32)
    good = csrf_field(settings, "cookie-1")
    check_form(_request({"host": "console:8083"}, "cookie-1"), settings, good)
    check_form(
        _request({"host": "console:8083", "origin": "http://console:8083"}, "cookie-1"),
        settings,
        good,
    )
    refused = [
        (_request({"host": "console:8083"}, "cookie-2"), good),  # another browser's value
        (_request({"host": "console:8083"}, None), good),  # no cookie
        (_request({"host": "console:8083"}, "cookie-1"), None),  # no value
        (_request({"host": "console:8083", "origin": "null"}, "cookie-1"), good),
        (_request({"host": "console:8083", "origin": "https://evil.example"}, "cookie-1"), good),
    ]
    for request, given in refused:
        with pytest.raises(Refused) as caught:
            check_form(request, settings, given)
        assert caught.value.status == 403
    other = ConsoleSettings(service_token="t", secret=b"o" * 32)
    assert csrf_field(other, "cookie-1") != good  # the console's secret signs it


def test_the_finance_form_keeps_today_and_rows_read_in_usd() -> None:
    assert _last_day_shown("2026-12-02T18:30:00.001000+00:00") == "2026-12-03"
    assert _last_day_shown("2026-12-03T00:00:00+00:00") == "2026-12-03"
    row = {"revenue_nano": 1_500_000_001, "requests": 3, "period": "2026-12-02"}
    assert list(_usd_columns(row).items()) == [
        ("period", "2026-12-02"),
        ("revenue", "1.500000001"),
        ("requests", 3),
    ]
    assert _usd_columns({"amount_nano": None, "command": "key.create"}) == {
        "amount": None,
        "command": "key.create",
    }


def test_the_console_needs_a_token_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOLLWAY_CONSOLE_TOKEN", raising=False)
    monkeypatch.delenv("TOLLWAY_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValueError, match="TOLLWAY_CONSOLE_TOKEN"):
        ConsoleSettings()
    monkeypatch.setenv("TOLLWAY_ADMIN_TOKEN", "t")
    monkeypatch.setenv("TOLLWAY_CONSOLE_SECURE_COOKIES", "sure")
    with pytest.raises(ValueError, match="1 or 0"):
        ConsoleSettings()
