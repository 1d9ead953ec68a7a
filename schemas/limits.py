"""The size of everything a person or a client names or writes: one limit per field, written
once here and checked by the admin API, the CLI and the event schemas alike (an API that
allowed more than its event held used to answer with a 500)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

__all__ = [
    "IDEMPOTENCY_KEY_MAX",
    "MAX_CHOICES",
    "MAX_OUTPUT_TOKENS",
    "MAX_TOKENS",
    "NAME_MAX",
    "REASON_MAX",
    "ROTATION_OVERLAP_MAX_S",
    "Name",
    "NameField",
    "Reason",
    "ReasonField",
    "printable",
]

#: Account and key names.
NAME_MAX = 200
#: Why an operator adjusted a balance or suspended an account.
REASON_MAX = 500
#: An idempotency key as a client sends it (billing prefixes it, within the event's 200).
IDEMPOTENCY_KEY_MAX = 128
#: How long a rotated key may keep working beside its successor: 30 days.
ROTATION_OVERLAP_MAX_S = 30 * 24 * 3600
#: Token counts in request events (more than any context window by far; a charge at the
#: dearest price stays under 10**17 nano-USD).
MAX_TOKENS = 10**10
#: One answer's output cap, and how many answers a request may ask for.
MAX_OUTPUT_TOKENS = 10**9
MAX_CHOICES = 1000

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(value: str) -> str:
    """Refuse control characters: a name is shown in terminals and pages."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


#: What the admin API takes: printable text within the limits.
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(printable)]
Reason = Annotated[str, Field(max_length=REASON_MAX), AfterValidator(printable)]
#: What events hold: the same limits, without refusing control characters, so an event
#: written before the API refused them still replays (readers escape them when they show
#: them). Tightening an event's schema is a breaking change; the API's is not.
NameField = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]
ReasonField = Annotated[str, Field(max_length=REASON_MAX)]
