"""Money is integer nano-USD (1 USD = 10**9 nano-USD), never a float, with stated maximums.

Amounts cross every boundary as `int`. Human input (``"10.50"``) is parsed
exactly and strictly (digits, one point, at most nine decimals: no exponents,
underscores or spaces inside) and refused when it carries more precision than a
nano-dollar, so no value is ever silently rounded on the way in.

The maximums keep every sum Tollway computes (a balance plus a top-up and its fee,
less a charge) far inside a signed 64-bit integer (9.2e18), which every store takes:
Kafka's JSON readers, Arrow, ClickHouse's Int64. The API, the CLI and the event
schemas all check against these same numbers.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import Field

__all__ = [
    "MAX_BALANCE_NANO",
    "MAX_MOVEMENT_NANO",
    "MAX_PRICE_NANO",
    "NANO_PER_USD",
    "MovementNanoUSD",
    "NanoUSD",
    "NonNegativeNanoUSD",
    "PriceNanoUSD",
    "format_usd",
    "hold_nano",
    "usd_to_nano",
]

NANO_PER_USD = 1_000_000_000
#: The most an account's balance may hold, either way: 1,000,000,000 USD.
MAX_BALANCE_NANO = 10**18
#: The largest single top-up or adjustment, either way: 10,000,000 USD.
MAX_MOVEMENT_NANO = 10**16
#: The dearest price per 1M tokens: 10,000 USD. With requests' token counts capped (see
#: ``schemas.events.requests``), one charge stays under 10**17 nano-USD.
MAX_PRICE_NANO = 10**13

#: A signed amount of nano-USD. ``strict`` refuses floats and numeric strings.
NanoUSD = Annotated[int, Field(strict=True, ge=-MAX_BALANCE_NANO, le=MAX_BALANCE_NANO)]
NonNegativeNanoUSD = Annotated[int, Field(strict=True, ge=0, le=MAX_BALANCE_NANO)]
MovementNanoUSD = Annotated[int, Field(strict=True, ge=-MAX_MOVEMENT_NANO, le=MAX_MOVEMENT_NANO)]
PriceNanoUSD = Annotated[int, Field(strict=True, ge=0, le=MAX_PRICE_NANO)]

#: What a person types for an amount: digits, an optional sign and point, nine decimals.
_AMOUNT = re.compile(r"[+-]?[0-9]{1,19}(\.[0-9]{1,9})?")


def usd_to_nano(amount: str | int | Decimal) -> int:
    """Parse a USD amount exactly; raise ``ValueError`` on anything else.

    Floats are refused on purpose: ``0.1`` is not representable and the caller
    should pass the text the user typed.
    """
    if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
        raise ValueError(
            f"amount must be a decimal string or an integer, not {type(amount).__name__}"
        )
    if isinstance(amount, str):
        text = amount.strip()
        if not _AMOUNT.fullmatch(text):
            raise ValueError(
                f"not an amount: {amount[:40]!r} (write digits with at most one point and nine "
                "decimals, such as 10.50)"
            )
        amount = text
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise ValueError(f"not a number: {amount!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {amount!r}")
    nano = value * NANO_PER_USD
    if nano != nano.to_integral_value():
        raise ValueError(f"more precise than one nano-USD: {amount!r}")
    return int(nano)


def format_usd(nano: int) -> str:
    """Render nano-USD as an exact decimal string, e.g. ``-1.500000000``."""
    sign = "-" if nano < 0 else ""
    whole, frac = divmod(abs(nano), NANO_PER_USD)
    return f"{sign}{whole}.{frac:09d}"


def hold_nano(
    prompt_tokens: int, output_tokens: int, input_per_mtok_nano: int, output_per_mtok_nano: int
) -> int:
    """What a request may cost at most: its prompt estimate at the input price and every
    output token it may write at the output price, rounded up, and never past the largest
    balance (more blocks an account as surely). Billing holds this on ``request.started``;
    a gateway reserves the same until billing's status shows it."""
    exact = prompt_tokens * input_per_mtok_nano + output_tokens * output_per_mtok_nano
    return min(-(-exact // 1_000_000), MAX_BALANCE_NANO)
