"""Members over HTTP: operators add members and approve, revoke or remove them (admin
tokens, as every admin route); a member signs in and manages their own keys with a session
token (``/v1/me``, which the gateway serves to the outside by forwarding here)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from schemas.admin_api import json_response

from ..errors import BadRequest, Forbidden
from ..service_layer import admin, commands, members
from ..service_layer.members import Caller
from .bodies import AccessIn, KeyIn, MemberIn, PasswordIn, ReasonIn, SignInIn, parse
from .common import body, caller, command, key_created, key_rotated, runtime

__all__ = ["router"]

router = APIRouter()
_ACCESS_FILTERS = ("none", "requested", "approved", "revoked")


# -- operators ---------------------------------------------------------------------------------


@router.post("/v1/accounts/{account_id}/members")
async def add_member(request: Request, account_id: str) -> Response:
    actor = caller(request, "operator").name
    given = parse(MemberIn, await body(request))
    added = await members.add(
        runtime(request), account_id, given.email, given.role, given.idempotency_key, actor
    )
    return json_response(added, 202 if added["outcome"] == "pending" else 201)


@router.get("/v1/accounts/{account_id}/members")
async def list_members(request: Request, account_id: str) -> Response:
    caller(request, "support")
    return json_response({"data": members.listed(runtime(request), account_id, None)})


@router.get("/v1/members")
async def all_members(request: Request) -> Response:
    """Every active member; ``?developer_access=requested`` is the approval queue."""
    caller(request, "support")
    access = request.query_params.get("developer_access")
    if access is not None and access not in _ACCESS_FILTERS:
        raise BadRequest(
            f"developer_access must be one of {', '.join(_ACCESS_FILTERS)}.", "developer_access"
        )
    return json_response({"data": members.listed(runtime(request), None, access)})


async def _access(request: Request, member_id: str, approve: bool) -> Response:
    actor = caller(request, "operator").name
    reason = parse(ReasonIn, await body(request)).reason
    done = await members.set_access(runtime(request), member_id, approve, reason, actor)
    return json_response(done, 202 if done["outcome"] == "pending" else 200)


@router.post("/v1/members/{member_id}/approve")
async def approve(request: Request, member_id: str) -> Response:
    return await _access(request, member_id, approve=True)


@router.post("/v1/members/{member_id}/revoke")
async def revoke(request: Request, member_id: str) -> Response:
    return await _access(request, member_id, approve=False)


@router.post("/v1/members/{member_id}/remove")
async def remove(request: Request, member_id: str) -> Response:
    actor = caller(request, "operator").name
    reason = parse(ReasonIn, await body(request)).reason
    done = await members.remove(runtime(request), member_id, reason, actor)
    return json_response(done, 202 if done["outcome"] == "pending" else 200)


# -- a member's own ----------------------------------------------------------------------------


def _me(request: Request) -> Caller:
    return members.authenticate(runtime(request), request.headers.get("authorization", ""))


@router.post("/v1/me/sessions")
async def sign_in(request: Request) -> Response:
    given = parse(SignInIn, await body(request))
    return json_response(await members.sign_in(runtime(request), given.email, given.password), 201)


@router.delete("/v1/me/sessions/current")
async def sign_out(request: Request) -> Response:
    return json_response(await members.sign_out(runtime(request), _me(request), every=False))


@router.delete("/v1/me/sessions")
async def sign_out_everywhere(request: Request) -> Response:
    return json_response(await members.sign_out(runtime(request), _me(request), every=True))


@router.get("/v1/me")
async def profile(request: Request) -> Response:
    me = _me(request)
    status = admin.known(runtime(request), me.member.account_id)
    account = {k: v for k, v in admin.account_view(status).items() if k != "plan"}
    return json_response(
        members.member_view(me.member)
        | {
            "account": account | {"plan": status.plan_name},
            "session_expires_at": me.session.expires_at.isoformat(),
        }
    )


@router.post("/v1/me/password")
async def change_password(request: Request) -> Response:
    me = _me(request)
    given = parse(PasswordIn, await body(request))
    return json_response(
        await members.change_password(
            runtime(request), me, given.current_password, given.new_password
        )
    )


@router.post("/v1/me/developer-access")
async def request_access(request: Request) -> Response:
    me = _me(request)
    note = parse(AccessIn, await body(request)).note
    return json_response(await members.request_access(runtime(request), me, note), 202)


@router.get("/v1/me/keys")
async def my_keys(request: Request) -> Response:
    keys = members.my_keys(runtime(request), _me(request))
    return json_response({"data": [admin.key_view(k) for k in keys]})


@router.post("/v1/me/keys")
async def create_my_key(request: Request) -> Response:
    me = _me(request)
    if me.member.access != "approved":
        raise Forbidden(
            "You need developer access to create keys: ask for it (POST "
            "/v1/me/developer-access) and an operator approves it.",
            code="developer_access_required",
        )
    given = parse(KeyIn, await body(request))
    return await key_created(
        request, me.member.account_id, given, me.actor, member_id=me.member.member_id
    )


@router.post("/v1/me/keys/{key_id}/rotate")
async def rotate_my_key(request: Request, key_id: str) -> Response:
    me = _me(request)
    record = admin.live_key(members.my_key(runtime(request), me, key_id))
    return await key_rotated(request, record, me.actor)


@router.delete("/v1/me/keys/{key_id}")
async def revoke_my_key(request: Request, key_id: str) -> Response:
    me = _me(request)
    record = admin.live_key(members.my_key(runtime(request), me, key_id))
    return await command(request, commands.revoke_key(record, me.actor))
