"""The console's web app: sign-in, the member's and the staff's pages, and what every
answer carries (a request id, security headers, errors as pages).

Pages are rendered on the server and use no JavaScript at all (the Content-Security-Policy
forbids scripts): forms post back, charts are inline SVG.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas.admin_api import request_id_for

from ..adapters.backends import BackendError
from . import member_pages, staff_pages
from .pages import SignInFirst, backends, form, render, rid, settings, text, viewer
from .session import BEARER, Refused, Who, forget, remember, who

__all__ = ["build_app"]

log = logging.getLogger("tollway.console")
_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def build_app(lifespan: Any = None) -> FastAPI:
    app = FastAPI(
        title="Tollway console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.mount("/static", StaticFiles(directory=Path(__file__).parent.parent / "static"), "static")

    @app.middleware("http")
    async def every_answer(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.request_id = request_id_for(request)
        response = await call_next(request)
        response.headers["x-request-id"] = request.state.request_id
        response.headers.update(_HEADERS)
        return response

    @app.exception_handler(SignInFirst)
    async def sign_in_first(request: Request, exc: SignInFirst) -> Response:
        response = RedirectResponse(f"/sign-in?done={exc.done}" if exc.done else "/sign-in", 303)
        if exc.done:
            forget(response)
        return response

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return _error_page(request, exc)

    @app.exception_handler(BackendError)
    async def backend(request: Request, exc: BackendError) -> Response:
        if exc.status >= 500:
            log.warning("a service failed: %s %s (%s)", exc.status, exc.code, exc.request_id)
        return _error_page(request, Refused(exc.status, exc.message), exc.request_id)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return _error_page(request, Refused(405, f"{request.method} is not allowed here."))
        return _error_page(request, Refused(404, "No such page."))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error in the console")
        return _error_page(request, Refused(500, "Internal error; the request_id identifies it."))

    app.get("/sign-in")(sign_in_page)
    app.post("/sign-in")(sign_in)
    app.post("/sign-out")(sign_out)
    app.get("/")(home)
    app.get("/healthz")(healthz)
    app.include_router(member_pages.router)
    app.include_router(staff_pages.router)
    return app


def _error_page(request: Request, exc: Refused, service_request_id: str | None = None) -> Response:
    return render(
        request,
        "error.html",
        "Error",
        None,
        exc.status,
        status=exc.status,
        error=exc.message,
        error_request_id=service_request_id,
    )


async def sign_in_page(request: Request) -> Response:
    return render(request, "sign_in.html", "Sign in", None)


async def sign_in(request: Request) -> Response:
    given = await form(request)
    kind = text(given, "kind", 10)
    api = backends(request)
    try:
        if kind == "member":
            found = await api.call(
                "billing",
                "POST",
                "/v1/me/sessions",
                None,
                {"email": text(given, "email", 320), "password": text(given, "password", 256)},
                rid=rid(request),
            )
            signed_in = Who("member", str(found.body["token"]))
        elif kind == "staff":
            token = text(given, "token", 512)
            if not BEARER.fullmatch(token):
                raise Refused(401, "That is not an admin token (they look like twadm_…).")
            await api.call("billing", "GET", "/v1/whoami", token, rid=rid(request))
            signed_in = Who("staff", token)
        else:
            raise Refused(400, "Sign in as a member or with an admin token.")
    except BackendError as exc:
        if exc.status >= 500:
            raise
        return render(
            request,
            "sign_in.html",
            "Sign in",
            None,
            exc.status,
            error=exc.message,
            error_request_id=exc.request_id,
        )
    response = RedirectResponse("/me" if kind == "member" else "/", 303)
    remember(response, settings(request), signed_in)
    return response


async def sign_out(request: Request) -> Response:
    await form(request)
    signed_in = who(request)
    if signed_in is not None and signed_in.kind == "member":
        # The session ends at billing too, not only in this browser (if it has not already
        # ended, or billing is away: the cookie goes either way).
        with contextlib.suppress(BackendError):
            await backends(request).call(
                "billing", "DELETE", "/v1/me/sessions/current", signed_in.bearer, rid=rid(request)
            )
    response = RedirectResponse("/sign-in?done=signed_out", 303)
    forget(response)
    return response


async def home(request: Request) -> Response:
    signed_in = who(request)
    if signed_in is None:
        return RedirectResponse("/sign-in", 303)
    if signed_in.kind == "member":
        return RedirectResponse("/me", 303)
    staff = await viewer(request, "staff")
    first = "/accounts" if staff.scopes & {"operator", "support"} else "/finance"
    return RedirectResponse(first, 303)


async def healthz() -> Response:
    return Response('{"status":"ok","service":"console"}', media_type="application/json")
