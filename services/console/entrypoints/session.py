"""Who is signed in, and the checks every form passes.

The browser holds two cookies, both ``HttpOnly``, ``SameSite=Strict`` and ``Secure``:
``tollway_console`` (the bearer the services know: a member's session token or a staff
admin token, with its kind) and ``tollway_csrf`` (random). Every form carries
HMAC(console secret, csrf cookie); a POST without the matching value, or from another
origin, is refused before anything is sent on. Nothing secret is ever put in a page: a new
key's secret is shown once, in the answer to the form that made it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

from ..settings import ConsoleSettings

__all__ = ["BEARER", "Refused", "Who", "check_form", "csrf_field", "forget", "remember", "who"]

SESSION, CSRF = "tollway_console", "tollway_csrf"
#: What a bearer the services issue looks like (visible ASCII): anything else is refused
#: before it could reach a header (a control character there fails the call, not the caller).
BEARER = re.compile(r"[!-~]{1,512}")


class Refused(Exception):
    """A request the console answers with an error page (status, message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Who:
    kind: Literal["member", "staff"]
    bearer: str


def who(request: Request) -> Who | None:
    kind, _, bearer = request.cookies.get(SESSION, "").partition(":")
    if kind in ("member", "staff") and BEARER.fullmatch(bearer):
        return Who("member" if kind == "member" else "staff", bearer)
    return None


def _cookie(response: Response, settings: ConsoleSettings, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=settings.session_s,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
        path="/",
    )


def remember(response: Response, settings: ConsoleSettings, signed_in: Who) -> None:
    _cookie(response, settings, SESSION, f"{signed_in.kind}:{signed_in.bearer}")
    # A new CSRF secret with every sign-in: a value planted before it is worth nothing.
    _cookie(response, settings, CSRF, secrets.token_urlsafe(32))


def forget(response: Response) -> None:
    response.delete_cookie(SESSION, path="/")


def csrf_cookie(request: Request, response: Response, settings: ConsoleSettings) -> str:
    """The browser's CSRF cookie, set on this response if it has none yet."""
    value = request.cookies.get(CSRF)
    if not value:
        value = secrets.token_urlsafe(32)
        _cookie(response, settings, CSRF, value)
    return value


def csrf_field(settings: ConsoleSettings, cookie: str) -> str:
    return hmac.new(settings.secret, cookie.encode(), hashlib.sha256).hexdigest()


def check_form(request: Request, settings: ConsoleSettings, given: object) -> None:
    """Refuse a form from another origin, or without this browser's CSRF value."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise Refused(403, "This form was sent from another site; open the console and retry.")
    cookie = request.cookies.get(CSRF, "")
    wanted = csrf_field(settings, cookie) if cookie else ""
    if not wanted or not isinstance(given, str) or not hmac.compare_digest(given, wanted):
        raise Refused(403, "This form has expired; reload the page and send it again.")
