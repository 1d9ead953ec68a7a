from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.events import PriceVersion
from schemas.prices import (
    PriceBook,
    UnknownPrice,
    div_half_even,
    hold_for,
    price_charge,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PRICE = PriceVersion(
    version="v1",
    effective_from=T0,
    input_per_mtok_nano=150_000_000,
    output_per_mtok_nano=600_000_000,
    cache_read_per_mtok_nano=75_000_000,
    cache_write_per_mtok_nano=187_500_000,
)
tokens = st.integers(min_value=0, max_value=5_000_000)


@pytest.mark.parametrize(
    ("n", "d", "q"),
    [(5, 2, 2), (7, 2, 4), (15, 10, 2), (25, 10, 2), (26, 10, 3), (14, 10, 1), (0, 7, 0)],
)
def test_half_even_rounding(n: int, d: int, q: int) -> None:
    assert div_half_even(n, d) == q


def test_a_known_charge() -> None:
    # 100 prompt tokens of which 64 cached, 5 output: 36*0.15 + 64*0.075 + 5*0.60 per 1M
    charge = price_charge(PRICE, 100, 5, 64, 0)
    assert (
        charge.total_nano
        == div_half_even(36 * 150_000_000 + 64 * 75_000_000 + 5 * 600_000_000, 1_000_000)
        == 13_200
    )
    assert (charge.input_nano, charge.cache_read_nano, charge.output_nano) == (5_400, 4_800, 3_000)


@given(
    tokens,
    tokens,
    tokens,
    tokens,
    st.sampled_from(["prompt", "completion", "read", "write"]),
    st.integers(min_value=1, max_value=100_000),
)
def test_cost_never_falls_when_tokens_rise(
    p: int, c: int, r: int, w: int, which: str, more: int
) -> None:
    r, w = min(r, p), min(w, max(p - r, 0))
    before = price_charge(PRICE, p, c, r, w).total_nano
    bumped = {
        "prompt": (p + more, c, r, w),
        "completion": (p, c + more, r, w),
        "read": (p + more, c, r + more, w),
        "write": (p + more, c, r, w + more),
    }[which]
    assert price_charge(PRICE, *bumped).total_nano >= before


@given(tokens, tokens, tokens)
def test_total_is_within_rounding_of_its_parts(p: int, c: int, r: int) -> None:
    r = min(r, p)
    charge = price_charge(PRICE, p, c, r, 0)
    parts = charge.input_nano + charge.output_nano + charge.cache_read_nano
    assert abs(charge.total_nano - parts) <= 2


def test_hold_rounds_up() -> None:
    assert hold_for(PRICE, 1, 0) == 150  # 0.15 USD per 1M tokens = 150 nano-USD a token
    odd = PRICE.model_copy(update={"input_per_mtok_nano": 1_500_001, "output_per_mtok_nano": 1})
    assert hold_for(odd, 1, 0) == 2  # 1.500001 nano-USD, rounded up, never down
    assert hold_for(odd, 0, 1) == 1


def test_price_in_force_at_a_time() -> None:
    later = PRICE.model_copy(
        update={"version": "v2", "effective_from": T0 + timedelta(days=1), "input_per_mtok_nano": 1}
    )
    book = PriceBook([("m", PRICE), ("m", later)])
    assert book.at("m", T0 + timedelta(hours=1)).version == "v1"
    assert book.at("m", T0 + timedelta(days=2)).version == "v2"
    with pytest.raises(UnknownPrice):
        book.at("m", T0 - timedelta(days=1))
    with pytest.raises(UnknownPrice):
        book.at("other", T0)
