"""The gateway's one exception tree, and its two wire shapes (OpenAI and Anthropic).

Every error a client sees is a ``GatewayError``: it carries the HTTP status,
the OpenAI ``type`` and ``code``, and the ``param`` at fault. ``openai_body``
and ``anthropic_body`` render it, always naming the request_id.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccountDisabled",
    "BadRequest",
    "DeveloperAccessRevoked",
    "GatewayError",
    "InsufficientBalance",
    "InvalidApiKey",
    "KeyLimitReached",
    "MembersUnavailable",
    "MethodNotAllowed",
    "ModelNotAllowed",
    "ModelNotFound",
    "NotFound",
    "NotReady",
    "QuotaExceeded",
    "RateLimited",
    "RequestHeadersTooLarge",
    "RequestTimeout",
    "RequestTooLarge",
    "TooManyConnections",
    "UpstreamError",
    "UpstreamTimeout",
    "UsageUnavailable",
    "anthropic_body",
    "openai_body",
]


class GatewayError(Exception):
    status = 500
    kind = "api_error"
    code = "internal_error"

    def __init__(
        self, message: str, *, param: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}


class BadRequest(GatewayError):
    status, kind, code = 400, "invalid_request_error", "invalid_request_error"


class InvalidApiKey(GatewayError):
    status, kind, code = 401, "authentication_error", "invalid_api_key"


class InsufficientBalance(GatewayError):
    status, kind, code = 402, "insufficient_quota", "insufficient_balance"


class AccountDisabled(GatewayError):
    status, kind, code = 403, "permission_error", "account_disabled"


class NotFound(GatewayError):
    status, kind, code = 404, "invalid_request_error", "not_found"


class ModelNotFound(GatewayError):
    status, kind, code = 404, "invalid_request_error", "model_not_found"


class MethodNotAllowed(GatewayError):
    status, kind, code = 405, "invalid_request_error", "invalid_http_method"


class RequestTimeout(GatewayError):
    status, kind, code = 408, "invalid_request_error", "request_timeout"


class RequestTooLarge(GatewayError):
    status, kind, code = 413, "invalid_request_error", "request_too_large"


class RequestHeadersTooLarge(GatewayError):
    status, kind, code = 431, "invalid_request_error", "request_header_fields_too_large"


class TooManyConnections(GatewayError):
    status, kind, code = 503, "invalid_request_error", "too_many_connections"


class RateLimited(GatewayError):
    status, kind, code = 429, "rate_limit_error", "rate_limit_exceeded"


class QuotaExceeded(GatewayError):
    status, kind, code = 429, "insufficient_quota", "quota_exceeded"


class KeyLimitReached(GatewayError):
    """This key's own spend limit (the account's other keys keep working)."""

    status, kind, code = 429, "insufficient_quota", "key_limit_reached"


class ModelNotAllowed(GatewayError):
    status, kind, code = 403, "permission_error", "model_not_allowed"


class DeveloperAccessRevoked(GatewayError):
    """The key's member lost developer access (an operator revoked it)."""

    status, kind, code = 403, "permission_error", "developer_access_revoked"


class MembersUnavailable(GatewayError):
    status, kind, code = 503, "api_error", "members_unavailable"


class UpstreamError(GatewayError):
    status, kind, code = 502, "api_error", "upstream_error"


class UpstreamTimeout(GatewayError):
    status, kind, code = 504, "api_error", "upstream_timeout"


class NotReady(GatewayError):
    status, kind, code = 503, "api_error", "not_ready"


class UsageUnavailable(GatewayError):
    status, kind, code = 503, "api_error", "usage_unavailable"


def openai_body(error: GatewayError, request_id: str) -> dict[str, Any]:
    return {
        "error": {
            "message": error.message,
            "type": error.kind,
            "code": error.code,
            "param": error.param,
            "request_id": request_id,
        }
    }


# Anthropic names its error types by HTTP status.
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "request_too_large",
    431: "request_too_large",
    429: "rate_limit_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def anthropic_body(error: GatewayError, request_id: str) -> dict[str, Any]:
    kind = _ANTHROPIC_TYPES.get(error.status, "api_error")
    return {
        "type": "error",
        "error": {"type": kind, "message": error.message, "code": error.code, "param": error.param},
        "request_id": request_id,
    }
