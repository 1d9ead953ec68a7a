"""``/v1/me``: a member's own API (sign in, their keys, developer access), served by billing
and forwarded there as it came. The gateway is the one address clients know; billing owns
members, sessions and keys, so the gateway adds nothing and decides nothing here: method,
path, query, body, the member's bearer token and the request id go through, billing's
answer comes back unchanged.
"""

from __future__ import annotations

import httpx

from ..errors import MembersUnavailable

__all__ = ["MembersApi"]

#: Request headers billing reads; nothing else is forwarded (no cookies, no client ids).
_FORWARDED = ("authorization", "content-type", "idempotency-key")
#: Answer headers passed back.
_RETURNED = ("content-type", "retry-after")


class MembersApi:
    def __init__(
        self,
        base_url: str,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport
        )

    async def forward(
        self,
        method: str,
        path: str,
        query: bytes,
        headers: dict[str, str],
        body: bytes,
        request_id: str,
    ) -> tuple[int, bytes, dict[str, str]]:
        sent = {k: v for k, v in headers.items() if k in _FORWARDED}
        try:
            response = await self._client.request(
                method,
                path,
                params=httpx.QueryParams(query.decode("latin-1")),
                headers=sent | {"x-request-id": request_id},
                content=body,
            )
        except httpx.HTTPError:
            raise MembersUnavailable(
                "Member sign-in and keys are unavailable right now (billing is unreachable); "
                "API keys keep working. Try again shortly.",
                headers={"Retry-After": "5"},
            ) from None
        back = {k: v for k, v in response.headers.items() if k.lower() in _RETURNED}
        return response.status_code, response.content, back

    async def close(self) -> None:
        await self._client.aclose()
