"""What every admin route does first: find the runtime, authorize the caller, read the
JSON body, resolve a plan; and how a command is answered (its result, 202 while pending)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from schemas.admin_access import AccessDenied, AdminToken
from schemas.admin_api import denied, json_response
from schemas.events import ApiKeyRecorded, Command, Plan

from ..domain.keys import NewKey
from ..domain.plans import UnknownPlan, resolve_plan
from ..errors import BadRequest
from ..service_layer import admin, commands
from ..service_layer.admin import AdminRuntime
from .bodies import KeyIn, RotateIn, parse

__all__ = [
    "body",
    "caller",
    "command",
    "key_created",
    "key_rotated",
    "plan_of",
    "runtime",
    "shown",
]


def runtime(request: Request) -> AdminRuntime:
    runtime: AdminRuntime = request.app.state.runtime
    return runtime


def caller(request: Request, scope: str) -> AdminToken:
    try:
        return runtime(request).tokens.authorize(request.headers.get("authorization", ""), scope)
    except AccessDenied as refusal:
        raise denied(refusal) from None


async def body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise BadRequest("The body must be a JSON object.")
    return parsed


def plan_of(request: Request, given: str | Plan | None) -> Plan:
    try:
        return resolve_plan(given, runtime(request).rules)
    except UnknownPlan as exc:
        raise BadRequest(str(exc) + ".", "plan", "unknown_plan") from None


def shown(key: NewKey) -> dict[str, str]:
    return {"key_id": key.key_id, "secret": key.secret, "prefix": key.prefix}


async def command(
    request: Request, event: Command, created: bool = False, extra: dict[str, Any] | None = None
) -> Response:
    result = await admin.submit(runtime(request), event)
    status = 202 if result.get("outcome") == "pending" else (201 if created else 200)
    return json_response(result | (extra or {}), status)


async def key_created(
    request: Request,
    account_id: str,
    given: KeyIn,
    actor: str,
    member_id: str | None = None,
) -> Response:
    """A new key of the account (of ``member_id``, if given); its secret shown once."""
    event, key = commands.create_key(
        account_id, given.name, actor, given.policy(), given.expires_at, member_id=member_id
    )
    secret = shown(key) | {"note": "The secret is shown once; Tollway keeps only its hash."}
    return await command(request, event, created=True, extra=secret)


async def key_rotated(request: Request, record: ApiKeyRecorded, actor: str) -> Response:
    """A successor for ``record`` (secret shown once); the old key lives on for the overlap
    the body asks for, or the default."""
    rt = runtime(request)
    given = parse(RotateIn, await body(request))
    overlap = rt.rotation_overlap_s if given.overlap_seconds is None else given.overlap_seconds
    event, key = commands.rotate_key(record, overlap, datetime.now(UTC), actor)
    secret = shown(key) | {
        "old_key_id": record.key_id,
        "old_key_expires_at": event.old_key_expires_at.isoformat(),
    }
    return await command(request, event, extra=secret)
