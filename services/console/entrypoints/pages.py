"""What every page needs: who is looking, the page rendered with the CSRF value and the
request id, forms read and checked, and ids checked before they go into a service's URL."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData, UploadFile

from ..adapters.backends import BackendError, Backends
from ..settings import ConsoleSettings
from .session import Refused, Who, check_form, csrf_cookie, csrf_field, who

__all__ = [
    "DONE",
    "SignInFirst",
    "Viewer",
    "backends",
    "call_as",
    "form",
    "not_found",
    "render",
    "request_trail",
    "rid",
    "safe_id",
    "settings",
    "text",
    "viewer",
]

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent.parent / "templates"),
    autoescape=True,
    undefined=jinja2.ChainableUndefined,
)
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
#: No form of the console is larger, or has more fields.
MAX_FORM, MAX_FIELDS = 64 * 1024, 50

#: What a finished form says on the page it leads to (fixed text: nothing from the URL is
#: ever shown back).
DONE = {
    "signed_out": "You are signed out.",
    "session_ended": "Your session ended: sign in again.",
    "access_requested": "Developer access requested: an operator will look at it.",
    "key_revoked": "The key is revoked: requests with it are refused from now on.",
    "webhook_removed": "The webhook is removed: no more alerts go to it.",
    "price_set": "Price recorded: requests from its effective time are charged at it.",
    "account_created": "Account created.",
    "topped_up": "Top-up recorded.",
    "pending": "Sent: billing has not confirmed it yet; reload in a moment.",
    "adjusted": "Adjustment recorded.",
    "plan_changed": "Plan changed: it applies from now on.",
    "approved": "Developer access approved.",
    "revoked": "Developer access revoked: the member's keys are refused until approved again.",
}


class SignInFirst(Exception):
    """No one (or no one allowed here) is signed in: to the sign-in page."""

    def __init__(self, done: str | None = None) -> None:
        super().__init__(done or "")
        self.done = done


@dataclass(frozen=True)
class Viewer:
    """Who is signed in, as the services know them."""

    who: Who
    name: str
    scopes: frozenset[str] = frozenset()
    me: dict[str, Any] = field(default_factory=dict)

    @property
    def account_id(self) -> str:
        return str(self.me["account"]["account_id"])


def settings(request: Request) -> ConsoleSettings:
    found: ConsoleSettings = request.app.state.settings
    return found


def backends(request: Request) -> Backends:
    found: Backends = request.app.state.backends
    return found


def rid(request: Request) -> str:
    return str(request.state.request_id)


async def viewer(request: Request, kind: str, *scopes: str) -> Viewer:
    """The signed-in person of ``kind`` (with one of ``scopes``, for staff), asked of the
    services on every page, so a revoked token or an ended session stops at once."""
    signed_in = who(request)
    if signed_in is None or signed_in.kind != kind:
        raise SignInFirst()
    api = backends(request)
    try:
        if kind == "member":
            me = (
                await api.call("billing", "GET", "/v1/me", signed_in.bearer, rid=rid(request))
            ).body
            return Viewer(signed_in, str(me["email"]), me=me)
        found = (
            await api.call("billing", "GET", "/v1/whoami", signed_in.bearer, rid=rid(request))
        ).body
    except BackendError as exc:
        if exc.status == 401:
            raise SignInFirst("session_ended") from None
        raise
    held = frozenset(str(s) for s in found["scopes"])
    if scopes and not held & set(scopes):
        raise Refused(
            403,
            f"The token '{found['name']}' has none of the scopes this page needs: "
            f"{', '.join(scopes)}.",
        )
    return Viewer(signed_in, f"token {found['name']}", held)


async def call_as(
    request: Request,
    person: Viewer,
    service: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> Any:
    """``service``'s answer to a call made with the signed-in person's own bearer."""
    api = backends(request)
    return (
        await api.call(service, method, path, person.who.bearer, body, params, rid(request))
    ).body


def render(
    request: Request,
    template: str,
    title: str,
    person: Viewer | None,
    code: int = 200,
    **context: Any,
) -> HTMLResponse:
    response = HTMLResponse("", status_code=code)
    cookie = csrf_cookie(request, response, settings(request))
    done = request.query_params.get("done")
    page = _TEMPLATES.get_template(template).render(
        title=title,
        signed_in=person.who if person else None,
        whoami=person.name if person else "",
        scopes=person.scopes if person else frozenset(),
        csrf=csrf_field(settings(request), cookie),
        request_id=rid(request),
        notice=context.pop("notice", None) or DONE.get(done or ""),
        idempotency_key=secrets.token_hex(16),
        gateway_url=settings(request).gateway_url,
        **context,
    )
    response.body = response.render(page)
    response.headers["content-length"] = str(len(response.body))
    return response


async def form(request: Request) -> FormData:
    """The form (every one of the console's is url-encoded), once its origin and CSRF value
    are checked. Its size is counted as it arrives, so a body sent in chunks, with no
    Content-Length to refuse it by, is cut off at ``MAX_FORM`` too."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise Refused(413, "That form is too large.")
    fields: list[tuple[str, str | UploadFile]] = []
    try:
        fields += parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "That is not a form this console sends.") from None
    given = FormData(fields)
    check_form(request, settings(request), given.get("csrf"))
    return given


def text(given: FormData, name: str, limit: int = 500) -> str:
    value = given.get(name)
    if not isinstance(value, str):
        return ""
    if len(value) > limit:
        raise Refused(400, f"'{name}' is longer than {limit} characters.")
    return value.strip()


def not_found(request_id: str) -> BackendError:
    return BackendError(
        404, "request_not_found", f"No request {request_id} has been recorded.", None
    )


async def request_trail(request: Request, request_id: str, bearer: str) -> dict[str, Any]:
    """Metering's trail of ``request_id`` (any refusal as the same "not recorded")."""
    if not _ID.fullmatch(request_id):
        raise Refused(400, "Request ids look like req_ followed by 32 hex digits.")
    try:
        found = await backends(request).call(
            "metering", "GET", f"/v1/requests/{request_id}", bearer, rid=rid(request)
        )
    except BackendError as exc:
        if exc.status == 404:
            raise not_found(request_id) from None
        raise
    return dict(found.body)


def safe_id(value: str) -> str:
    """An id from a URL, before it goes into a service's URL: letters, digits, _ and -."""
    if not _ID.fullmatch(value):
        raise Refused(404, "No such page.")
    return value
