"""Console settings from the environment; defaults match ``make run``."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

from schemas.settings import env_flag, env_int, env_port, env_text

__all__ = ["ConsoleSettings"]


def _local(port_variable: str, default_port: str) -> str:
    return f"http://127.0.0.1:{env_text(port_variable, default_port)}"


def _service_token() -> str:
    token = os.environ.get("TOLLWAY_CONSOLE_TOKEN") or os.environ.get("TOLLWAY_ADMIN_TOKEN")
    if not token:
        raise ValueError(
            "no console token: set TOLLWAY_CONSOLE_TOKEN (an admin token with the support "
            "scope, for members' usage and lookups) or TOLLWAY_ADMIN_TOKEN"
        )
    return token


@dataclass(frozen=True)
class ConsoleSettings:
    port: int = field(default_factory=lambda: env_port("TOLLWAY_CONSOLE_PORT", 8083))
    host: str = field(default_factory=lambda: env_text("TOLLWAY_CONSOLE_HOST", "127.0.0.1"))
    billing_url: str = field(
        default_factory=lambda: env_text(
            "TOLLWAY_BILLING_URL", _local("TOLLWAY_BILLING_PORT", "8081")
        )
    )
    metering_url: str = field(
        default_factory=lambda: env_text(
            "TOLLWAY_METERING_URL", _local("TOLLWAY_METERING_PORT", "8082")
        )
    )
    gateway_url: str = field(
        default_factory=lambda: env_text(
            "TOLLWAY_GATEWAY_URL", _local("TOLLWAY_GATEWAY_PORT", "8080")
        )
    )
    dispatcher_url: str = field(
        default_factory=lambda: env_text(
            "TOLLWAY_DISPATCHER_URL", _local("TOLLWAY_DISPATCHER_PORT", "8084")
        )
    )
    #: The console's own token, for what a member may see of their account in metering
    #: (usage, their requests): least privilege is a token with the support scope only.
    service_token: str = field(default_factory=_service_token, repr=False)
    #: Cookies are ``Secure`` (sent over HTTPS only; browsers also send them to
    #: http://localhost). ``TOLLWAY_CONSOLE_SECURE_COOKIES=0`` only behind a plain-http hop.
    secure_cookies: bool = field(
        default_factory=lambda: env_flag("TOLLWAY_CONSOLE_SECURE_COOKIES", True)
    )
    #: Signs the CSRF tokens; several console instances behind one name share it.
    secret: bytes = field(
        default_factory=lambda: (
            os.environ["TOLLWAY_CONSOLE_SECRET"].encode()
            if os.environ.get("TOLLWAY_CONSOLE_SECRET")
            else secrets.token_bytes(32)
        ),
        repr=False,
    )
    #: How long a browser stays signed in (the member's own session may end sooner).
    session_s: int = field(default_factory=lambda: env_int("TOLLWAY_CONSOLE_SESSION_S", 43200))
