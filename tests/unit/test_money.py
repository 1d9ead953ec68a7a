from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.money import NANO_PER_USD, format_usd, usd_to_nano


@pytest.mark.parametrize(
    ("text", "nano"),
    [
        ("10", 10 * NANO_PER_USD),
        ("0.000000001", 1),
        ("-1.5", -1_500_000_000),
        (" 2.25 ", 2_250_000_000),
    ],
)
def test_parses_exact_decimal_text(text: str, nano: int) -> None:
    assert usd_to_nano(text) == nano


@pytest.mark.parametrize("bad", ["", "abc", "1e", "NaN", "Infinity", "0.0000000001", "1.2.3"])
def test_refuses_text_that_is_not_an_exact_amount(bad: str) -> None:
    with pytest.raises(ValueError):
        usd_to_nano(bad)


def test_refuses_floats_and_bools() -> None:
    with pytest.raises(ValueError, match="float"):
        usd_to_nano(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        usd_to_nano(True)


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_format_then_parse_is_identity(nano: int) -> None:
    assert usd_to_nano(format_usd(nano)) == nano


@given(st.decimals(min_value=-(10**6), max_value=10**6, places=9, allow_nan=False))
def test_parse_agrees_with_decimal_arithmetic(amount: Decimal) -> None:
    assert usd_to_nano(format(amount, "f")) == int(amount * NANO_PER_USD)


@pytest.mark.parametrize(
    "typed", ["1_000", "1e3", "1E21", "0E-9", "Infinity", "NaN", "", "1.2.3", "12 34", "0x10", "٣"]
)
def test_amounts_are_parsed_strictly(typed: str) -> None:
    """What Python's Decimal would take but a person did not mean as an amount."""
    with pytest.raises(ValueError, match="not an amount"):
        usd_to_nano(typed)
