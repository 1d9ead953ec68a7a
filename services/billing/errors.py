"""Billing's exception tree: the admin APIs' (``schemas.admin_api``, rendered there in one
place as the OpenAI error shape with the request_id). Each error carries its HTTP status
and code; what is billing's own is how a command it refused maps to one
(``for_rejection``)."""

from __future__ import annotations

from schemas.admin_api import (
    AdminError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
)

__all__ = [
    "BadRequest",
    "BillingError",
    "Conflict",
    "Forbidden",
    "NotFound",
    "TooManyRequests",
    "Unauthorized",
    "for_rejection",
]


#: The root of billing's errors.
BillingError = AdminError


#: A refused command's rule -> the error an operator gets (the rest: 409).
_REJECTIONS: dict[str, tuple[type[BillingError], str | None]] = {
    "account_not_found": (NotFound, "account_id"),
    "key_not_found": (NotFound, "key_id"),
    "member_not_found": (NotFound, "member_id"),
    "session_not_found": (NotFound, None),
    "developer_access_required": (Forbidden, None),
    "top_up_below_minimum": (BadRequest, "amount_usd"),
    "balance_limit": (BadRequest, "amount_usd"),
}


def for_rejection(code: str, reason: str) -> BillingError:
    error_type, param = _REJECTIONS.get(code, (Conflict, None))
    return error_type(reason, param, code or "command_rejected")
