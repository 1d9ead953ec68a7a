"""Metering's exception tree: the admin APIs' (``schemas.admin_api``, rendered there in one
place as the OpenAI error shape with the request_id), and ``ConfigError`` for settings
the service cannot start with."""

from __future__ import annotations

from schemas.admin_api import AdminError, BadRequest, NotFound

__all__ = ["BadRequest", "ConfigError", "MeteringError", "NotFound"]

#: The root of metering's errors.
MeteringError = AdminError


class ConfigError(MeteringError, ValueError):
    """A setting the service cannot start with (CLICKHOUSE_URL malformed, its folder
    unusable): reported at startup, never to an API caller."""
