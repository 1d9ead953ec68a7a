"""Operators', finance's and support's pages. Every call goes to billing or metering with
the staff member's own admin token: the services check its scope and record its name with
every change, as they do for the CLI; a page only hides what the token could not do."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from schemas.money import format_usd

from ..adapters.backends import BackendError
from ..adapters.charts import bar_chart
from ..domain.usage import by_field
from .member_pages import key_body
from .pages import (
    Viewer,
    backends,
    call_as,
    form,
    render,
    request_trail,
    rid,
    safe_id,
    text,
    viewer,
)
from .session import Refused
from .usage_view import days_asked, usage_context, webhooks_context

__all__ = ["router"]

router = APIRouter()
#: Accounts listed on one page (the filter finds the rest).
PAGE = 200
_BACK = re.compile(r"/(approvals|accounts/[A-Za-z0-9_-]{1,128})")
_GROUPINGS = ("day", "week", "month", "day,model", "month,account_id", "model", "account_id")


def _done(found: dict[str, Any], done: str) -> str:
    return "pending" if found.get("outcome") == "pending" else done


@router.get("/accounts")
async def accounts(request: Request) -> Response:
    who = await viewer(request, "staff", "support", "operator")
    listed = (await call_as(request, who, "billing", "GET", "/v1/accounts"))["data"]
    q = request.query_params.get("q", "").strip()[:200]
    if q:
        listed = [a for a in listed if q.lower() in f"{a['name']} {a['account_id']}".lower()]
    listed.sort(key=lambda a: (a["name"].lower(), a["account_id"]))
    return render(
        request,
        "accounts.html",
        "Accounts",
        who,
        accounts=listed[:PAGE],
        shown=min(PAGE, len(listed)),
        total=len(listed),
        q=q,
    )


@router.post("/accounts")
async def create_account(request: Request) -> Response:
    who = await viewer(request, "staff", "operator")
    given = await form(request)
    body = {
        "name": text(given, "name", 200),
        "plan": text(given, "plan", 20) or "premium",
        "idempotency_key": text(given, "idempotency_key", 64),
    }
    made = await call_as(request, who, "billing", "POST", "/v1/accounts", body=body)
    done = _done(made, "account_created")
    return RedirectResponse(f"/accounts/{safe_id(made['account_id'])}?done={done}", 303)


async def _account_page(
    request: Request, who: Viewer, account_id: str, status: int = 200, **context: Any
) -> Response:
    account_id = safe_id(account_id)
    found = await call_as(request, who, "billing", "GET", f"/v1/accounts/{account_id}")
    try:
        members = (
            await call_as(request, who, "billing", "GET", f"/v1/accounts/{account_id}/members")
        )["data"]
        context["members"] = members
    except BackendError as exc:
        context["members_error"] = exc.message
    usage = await usage_context(
        request, account_id, who.who.bearer, days_asked(request), found["keys"]
    )
    hooks = await webhooks_context(request, account_id, who.who.bearer)
    if "operator" in who.scopes:  # billing's audit needs it
        trail = await call_as(
            request, who, "billing", "GET", "/v1/audit", None, {"account_id": account_id}
        )
        context["audit"] = [_usd_columns(a) for a in trail["data"][:100]]
    return render(
        request,
        "account.html",
        found["name"],
        who,
        status,
        account=found,
        keys=found["keys"],
        key_action=f"/accounts/{account_id}/keys",
        can_create="operator" in who.scopes,
        cannot_create="Creating keys needs the operator scope.",
        back=f"/accounts/{account_id}",
        no_members="No members yet: `tollway members add` adds one.",
        can_manage_webhooks="operator" in who.scopes,
        **hooks,
        **usage,
        **context,
    )


async def _refused_on(
    request: Request, who: Viewer, account_id: str, exc: BackendError
) -> Response:
    """A form the service refused, shown on the account's page with the service's message
    (an unknown account, or a service failing, is the error page instead)."""
    if exc.status >= 500 or exc.status == 404:
        raise exc
    return await _account_page(
        request, who, account_id, exc.status, error=exc.message, error_request_id=exc.request_id
    )


@router.get("/accounts/{account_id}")
async def account(request: Request, account_id: str) -> Response:
    who = await viewer(request, "staff", "support", "operator")
    return await _account_page(request, who, account_id)


async def _money(request: Request, account_id: str, kind: str) -> Response:
    who = await viewer(request, "staff", "operator")
    account_id = safe_id(account_id)
    given = await form(request)
    body: dict[str, Any] = {
        "amount_usd": text(given, "amount_usd", 30),
        "idempotency_key": text(given, "idempotency_key", 64),
    }
    if kind == "adjustments":
        body |= {"reason": text(given, "reason"), "refund": given.get("refund") == "1"}
    try:
        done = await call_as(
            request, who, "billing", "POST", f"/v1/accounts/{account_id}/{kind}", body=body
        )
    except BackendError as exc:
        return await _refused_on(request, who, account_id, exc)
    label = _done(done, "topped_up" if kind == "top-ups" else "adjusted")
    return RedirectResponse(f"/accounts/{account_id}?done={label}", 303)


@router.post("/accounts/{account_id}/top-ups")
async def top_up(request: Request, account_id: str) -> Response:
    return await _money(request, account_id, "top-ups")


@router.post("/accounts/{account_id}/adjustments")
async def adjust(request: Request, account_id: str) -> Response:
    return await _money(request, account_id, "adjustments")


@router.post("/accounts/{account_id}/plan")
async def change_plan(request: Request, account_id: str) -> Response:
    who = await viewer(request, "staff", "operator")
    account_id = safe_id(account_id)
    given = await form(request)
    body = {
        "plan": text(given, "plan", 20),
        "reason": text(given, "reason"),
        "idempotency_key": text(given, "idempotency_key", 64),
    }
    try:
        done = await call_as(
            request, who, "billing", "POST", f"/v1/accounts/{account_id}/plan", body
        )
    except BackendError as exc:
        return await _refused_on(request, who, account_id, exc)
    return RedirectResponse(f"/accounts/{account_id}?done={_done(done, 'plan_changed')}", 303)


@router.post("/accounts/{account_id}/keys")
async def create_key(request: Request, account_id: str) -> Response:
    who = await viewer(request, "staff", "operator")
    account_id = safe_id(account_id)
    body = key_body(await form(request))
    try:
        made = await call_as(
            request, who, "billing", "POST", f"/v1/accounts/{account_id}/keys", body=body
        )
    except BackendError as exc:
        return await _refused_on(request, who, account_id, exc)
    title = f"Key “{body['name']}” created"
    return await _account_page(request, who, account_id, 201, secret=made["secret"], heading=title)


@router.post("/accounts/{account_id}/keys/{key_id}/rotate")
async def rotate_key(request: Request, account_id: str, key_id: str) -> Response:
    who = await viewer(request, "staff", "operator")
    await form(request)
    made = await call_as(
        request, who, "billing", "POST", f"/v1/keys/{safe_id(key_id)}/rotate", body={}
    )
    title = "Key rotated: its new secret"
    return await _account_page(request, who, account_id, secret=made["secret"], heading=title)


@router.post("/accounts/{account_id}/keys/{key_id}/revoke")
async def revoke_key(request: Request, account_id: str, key_id: str) -> Response:
    who = await viewer(request, "staff", "operator")
    await form(request)
    await call_as(request, who, "billing", "POST", f"/v1/keys/{safe_id(key_id)}/revoke", body={})
    return RedirectResponse(f"/accounts/{safe_id(account_id)}?done=key_revoked", 303)


@router.post("/accounts/{account_id}/members")
async def add_member(request: Request, account_id: str) -> Response:
    who = await viewer(request, "staff", "operator")
    account_id = safe_id(account_id)
    given = await form(request)
    body = {
        "email": text(given, "email", 320),
        "role": text(given, "role", 20) or "developer",
        "idempotency_key": text(given, "idempotency_key", 64),
    }
    try:
        added = await call_as(
            request, who, "billing", "POST", f"/v1/accounts/{account_id}/members", body
        )
    except BackendError as exc:
        return await _refused_on(request, who, account_id, exc)
    return await _account_page(
        request, who, account_id, 201, first_password=added["password"], new_member=body["email"]
    )


@router.post("/accounts/{account_id}/webhooks")
async def add_webhook(request: Request, account_id: str) -> Response:
    who = await viewer(request, "staff", "operator")
    account_id = safe_id(account_id)
    given = await form(request)
    events = [e for e in given.getlist("events") if isinstance(e, str)][:20]
    body = {"url": text(given, "url", 2048), "events": events}
    try:
        added = await call_as(
            request, who, "billing", "POST", f"/v1/accounts/{account_id}/webhooks", body
        )
    except BackendError as exc:
        return await _refused_on(request, who, account_id, exc)
    return await _account_page(request, who, account_id, 201, webhook_secret=added["secret"])


@router.post("/accounts/{account_id}/webhooks/{webhook_id}/delete")
async def delete_webhook(request: Request, account_id: str, webhook_id: str) -> Response:
    who = await viewer(request, "staff", "operator")
    await form(request)
    await call_as(request, who, "billing", "DELETE", f"/v1/webhooks/{safe_id(webhook_id)}")
    return RedirectResponse(f"/accounts/{safe_id(account_id)}?done=webhook_removed", 303)


@router.get("/approvals")
async def approvals(request: Request) -> Response:
    who = await viewer(request, "staff", "support", "operator")
    asking = await call_as(
        request, who, "billing", "GET", "/v1/members", params={"developer_access": "requested"}
    )
    return render(
        request,
        "approvals.html",
        "Approvals",
        who,
        members=asking["data"],
        back="/approvals",
        no_members="No one is waiting for developer access.",
    )


async def _access(request: Request, member_id: str, verb: str) -> Response:
    who = await viewer(request, "staff", "operator")
    given = await form(request)
    back = text(given, "back", 200)
    if not _BACK.fullmatch(back):
        back = "/approvals"  # never a redirect to anywhere a form names
    reason = text(given, "reason")
    await call_as(
        request,
        who,
        "billing",
        "POST",
        f"/v1/members/{safe_id(member_id)}/{verb}",
        body={"reason": reason} if reason else {},
    )
    return RedirectResponse(f"{back}?done={'approved' if verb == 'approve' else 'revoked'}", 303)


@router.post("/members/{member_id}/approve")
async def approve(request: Request, member_id: str) -> Response:
    return await _access(request, member_id, "approve")


@router.post("/members/{member_id}/revoke")
async def revoke(request: Request, member_id: str) -> Response:
    return await _access(request, member_id, "revoke")


@router.get("/support")
async def support(request: Request) -> Response:
    who = await viewer(request, "staff", "support")
    asked = request.query_params.get("request_id", "").strip()[:100]
    context: dict[str, Any] = {"heading": "Support: a request's trail", "request_id_query": asked}
    if asked:
        trail = await request_trail(request, asked, who.who.bearer)
        context |= {"trail": trail, "link_account": True}
        with contextlib.suppress(BackendError, Refused):  # the trail stands on its own
            context["account"] = await call_as(
                request, who, "billing", "GET", f"/v1/accounts/{safe_id(trail['account_id'])}"
            )
    return render(request, "lookup.html", "Support", who, **context)


def _finance_query(request: Request) -> dict[str, str]:
    q = request.query_params
    asked = {"from": q.get("from", ""), "to": q.get("to", ""), "group_by": q.get("group_by", "day")}
    return {k: v[:40] for k, v in asked.items() if v}


_GROUPS = ("period", "account_id", "model")


def _usd_columns(row: dict[str, Any]) -> dict[str, Any]:
    """A report row for reading: its groups first, then each ``*_nano`` amount as USD under
    its name without the suffix (the exports keep the integers)."""
    ordered = [k for k in _GROUPS if k in row] + [k for k in row if k not in _GROUPS]
    return {
        (k[: -len("_nano")] if k.endswith("_nano") else k): (
            format_usd(int(row[k])) if k.endswith("_nano") and row[k] is not None else row[k]
        )
        for k in ordered
    }


def _last_day_shown(end: str) -> str:
    """The form's "to" (a day, excluded) for a report that ran to ``end``: the next day when
    ``end`` is within a day (the default, now), so sending the form again keeps today."""
    stop = datetime.fromisoformat(end)
    day = stop.date()
    return (
        day if stop.timetz().replace(tzinfo=None) == time() else day + timedelta(days=1)
    ).isoformat()


@router.get("/finance")
async def finance(request: Request) -> Response:
    who = await viewer(request, "staff", "finance")
    asked = _finance_query(request)
    report = await call_as(request, who, "metering", "GET", "/v1/reports/finance", params=asked)
    period = {k: v for k, v in asked.items() if k != "group_by"}
    reconcile = await call_as(request, who, "metering", "GET", "/v1/reconcile", params=period)
    rows = [_usd_columns(r) for r in report["rows"]]
    chart = None
    if report["rows"] and "period" in report["rows"][0]:
        by_day = [
            {"day": r["period"], "kind": kind, "nano": r[column]}
            for r in report["rows"]
            for kind, column in (("revenue", "revenue_nano"), ("fees", "fees_nano"))
        ]
        chart = bar_chart(
            "Revenue and fees per period, USD", by_field(by_day, "kind", "nano"), usd=True
        )
    return render(
        request,
        "finance.html",
        "Finance",
        who,
        report=report,
        rows=rows,
        top=[_usd_columns(r) for r in report["top"]],
        reconcile=reconcile,
        columns=list(rows[0]) if rows else [],
        chart=chart,
        start=str(report["from"])[:10],
        end=_last_day_shown(str(report["to"])),
        group_by=asked.get("group_by", "day"),
        groupings=_GROUPINGS,
        query=urlencode(asked),
    )


@router.get("/finance/export")
async def export(request: Request) -> Response:
    who = await viewer(request, "staff", "finance")
    fmt = request.query_params.get("format", "csv")
    if fmt not in ("csv", "parquet"):
        raise Refused(400, "format must be csv or parquet.")
    data, media = await backends(request).raw(
        "metering",
        "/v1/reports/finance",
        who.who.bearer,
        _finance_query(request) | {"format": fmt},
        rid(request),
    )
    name = f"tollway-finance.{fmt}"
    return Response(
        data, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'}
    )


async def _status_page(request: Request, who: Viewer, code: int = 200, **extra: Any) -> Response:
    api = backends(request)
    services = []
    for name in ("gateway", "billing", "metering", "dispatcher"):
        answered, body = await api.health(name)
        details = (
            [(k, v) for k, v in body.items() if k != "status"] if isinstance(body, dict) else []
        )
        state = body.get("status") if isinstance(body, dict) else None
        services.append(
            {
                "name": name,
                "ok": answered == 200,
                "status": f"{answered or '—'} {state or ''}",
                "details": details[:12],
            }
        )
    lags = [row for name in ("billing", "metering") for row in await api.lag(name, who.who.bearer)]
    context: dict[str, Any] = {"services": services, "lags": lags}
    try:
        listed = (await call_as(request, who, "billing", "GET", "/v1/prices"))["data"]
        context["prices"] = [{"model": m["model"]} | v for m in listed for v in m["versions"]]
    except BackendError as exc:
        context["prices_error"] = exc.message
    return render(request, "status.html", "Status", who, code, **context, **extra)


@router.get("/status")
async def status(request: Request) -> Response:
    return await _status_page(request, await viewer(request, "staff"))


@router.post("/prices")
async def set_price(request: Request) -> Response:
    who = await viewer(request, "staff", "operator")
    given = await form(request)
    body: dict[str, Any] = {
        k: text(given, k, 30) for k in ("input", "output", "cache_read", "cache_write")
    }
    body["cache_write"] = body["cache_write"] or "0"
    if when := text(given, "effective_from", 40):
        body["effective_from"] = when
    model = text(given, "model", 256)
    if not model or "/" in model or model in (".", ".."):
        message = "Name the model (the prices API takes no '/' in a model's name)."
        return await _status_page(request, who, 400, error=message)
    try:
        await call_as(request, who, "billing", "PUT", f"/v1/prices/{quote(model, safe='')}", body)
    except BackendError as exc:
        if exc.status >= 500:
            raise
        return await _status_page(
            request, who, exc.status, error=exc.message, error_request_id=exc.request_id
        )
    return RedirectResponse("/status?done=price_set", 303)
