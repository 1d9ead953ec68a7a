"""The metering service's usage report, fetched for a key holder's own account.

Metering owns ClickHouse; the gateway owns key authentication. ``GET /v1/usage``
on the gateway authenticates the key, then asks metering for that key's account
only, with the gateway's own admin token (``TOLLWAY_GATEWAY_TOKEN``, support scope).
The account id never comes from the caller.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import orjson

from ..errors import BadRequest, UsageUnavailable

__all__ = ["UsageReports"]

log = logging.getLogger("tollway.gateway.reports")

#: Said in the log whenever metering refuses the gateway's token (the operator's to fix).
_REFUSED = (
    "metering refused the gateway's token ({status}): TOLLWAY_GATEWAY_TOKEN must be an "
    "admin token metering knows, with the support scope; GET /v1/usage answers 503 until it is"
)


class UsageReports:
    def __init__(
        self,
        base_url: str,
        token: str,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
        )

    async def usage(self, account_id: str, period: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self._client.get(f"/v1/usage/{account_id}", params=period)
        except httpx.HTTPError:
            raise UsageUnavailable(
                "Usage reports are unavailable right now (metering is unreachable); "
                "requests are still served and recorded. Try again shortly.",
                headers={"Retry-After": "5"},
            ) from None
        try:
            body: dict[str, Any] = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = {}
        if response.status_code == 400:
            error = body.get("error") or {}
            raise BadRequest(
                str(error.get("message") or "Bad usage query."), param=error.get("param")
            )
        if response.status_code in (401, 403):
            log.error(_REFUSED.format(status=response.status_code))
        if response.status_code != 200 or "data" not in body:
            raise UsageUnavailable(
                f"Usage reports failed upstream of the gateway (metering answered "
                f"{response.status_code}).",
                headers={"Retry-After": "5"},
            )
        return body

    async def check_token(self, every_s: float = 5.0, attempts: int = 24) -> str | None:
        """Once metering answers (asked every ``every_s``, ``attempts`` times at most): what
        the operator should fix about the gateway's token, also logged: refused, unable to
        read usage, or able to do more than read (a gateway faces clients). None if fine."""
        for attempt in range(attempts):
            try:
                response = await self._client.get("/v1/whoami")
                break
            except httpx.HTTPError:
                if attempt + 1 < attempts:
                    await asyncio.sleep(every_s)
        else:
            return None  # metering away: /v1/usage says so to whoever asks
        if response.status_code != 200:
            problem = _REFUSED.format(status=response.status_code)
            log.error(problem)
            return problem
        try:
            token = orjson.loads(response.content)
            name, scopes = str(token["name"]), {str(s) for s in token["scopes"]}
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None  # not metering's answer: /v1/usage will say what it gets
        if "operator" in scopes:
            problem = (
                f"the gateway holds the token {name!r}, which has the operator scope: anyone "
                "who takes over a gateway could move money with it. Give the gateway a token "
                "of its own with the support scope only (TOLLWAY_GATEWAY_TOKEN)"
            )
            log.warning(problem)
            return problem
        if not scopes & {"support", "finance"}:
            problem = (
                f"the gateway's token {name!r} cannot read usage (scopes: "
                f"{', '.join(sorted(scopes)) or 'none'}): give it the support scope"
            )
            log.error(problem)
            return problem
        return None

    async def close(self) -> None:
        await self._client.aclose()
