"""Money is integer nano-USD (1 USD = 10**9 nano-USD), never a float.

Amounts cross every boundary as `int`. Human input (``"10.50"``) is parsed
exactly with ``Decimal`` and refused when it carries more precision than a
nano-dollar, so no value is ever silently rounded on the way in.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import Field

__all__ = ["NANO_PER_USD", "NanoUSD", "NonNegativeNanoUSD", "format_usd", "usd_to_nano"]

NANO_PER_USD = 1_000_000_000

#: A signed amount of nano-USD. ``strict`` refuses floats and numeric strings.
NanoUSD = Annotated[int, Field(strict=True)]
NonNegativeNanoUSD = Annotated[int, Field(strict=True, ge=0)]


def usd_to_nano(amount: str | int | Decimal) -> int:
    """Parse a USD amount exactly; raise ``ValueError`` on anything else.

    Floats are refused on purpose: ``0.1`` is not representable and the caller
    should pass the text the user typed.
    """
    if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
        raise ValueError(
            f"amount must be a decimal string or an integer, not {type(amount).__name__}"
        )
    try:
        value = Decimal(amount.strip() if isinstance(amount, str) else amount)
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
