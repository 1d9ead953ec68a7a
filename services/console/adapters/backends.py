"""Billing's, metering's and the other services' APIs, as the console calls them.

The console holds no state of its own: every page is read from, and every form sent to, the
services' own APIs, with the signed-in person's own bearer (a member's session token or a
staff member's admin token), so the services' scope checks and audit trail apply as they do
to the CLI. Only a member's usage and request lookups go to metering with the console's
token, after the console has checked the account is the member's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["BackendError", "Backends", "Reply"]


class BackendError(Exception):
    """A service refused a call (its status, code and message), or could not be reached
    (status 503, code ``backend_unreachable``)."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.request_id = status, code, message, request_id


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    request_id: str | None


class Backends:
    def __init__(self, urls: dict[str, str], timeout_s: float = 15.0) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def close(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        bearer: str | None,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        rid: str | None = None,
    ) -> Reply:
        """The service's JSON answer; ``BackendError`` for a 4xx/5xx or no answer.
        ``rid`` (the console's request id) is passed on: one id from browser to log."""
        response = await self._send(service, method, path, bearer, body, params, rid)
        _raise_refusal(service, response)
        return Reply(response.status_code, _json(response), response.headers.get("x-request-id"))

    async def raw(
        self, service: str, path: str, bearer: str, params: dict[str, str], rid: str
    ) -> tuple[bytes, str]:
        """A download (CSV, Parquet): its bytes and content type."""
        response = await self._send(service, "GET", path, bearer, None, params, rid)
        _raise_refusal(service, response)
        return response.content, response.headers.get("content-type", "application/octet-stream")

    async def lag(self, service: str, bearer: str) -> list[dict[str, Any]]:
        """The consumer lag per partition ``service`` reports on ``/metrics``; empty when it
        reports none or cannot be read."""
        try:
            response = await self._client.get(
                self.urls[service] + "/metrics",
                headers={"authorization": f"Bearer {bearer}"},
                timeout=5,
            )
        except httpx.HTTPError:
            return []
        if response.status_code != 200:
            return []
        return [
            {"service": service, **sample.labels, "lag": int(sample.value)}
            for family in text_string_to_metric_families(response.text)
            if family.name.endswith("_consumer_lag")
            for sample in family.samples
        ]

    async def health(self, service: str) -> tuple[int, Any]:
        """``/healthz`` (``/readyz`` where a service has one), as status and body."""
        path = "/readyz" if service in ("gateway", "billing") else "/healthz"
        try:
            response = await self._client.get(self.urls[service] + path, timeout=5)
        except httpx.HTTPError as exc:
            return 0, {"status": f"unreachable ({type(exc).__name__})"}
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {"status": response.text[:200]}

    async def _send(
        self,
        service: str,
        method: str,
        path: str,
        bearer: str | None,
        body: dict[str, Any] | None,
        params: dict[str, str] | None,
        rid: str | None,
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
        if rid:
            headers["x-request-id"] = rid
        try:
            return await self._client.request(
                method, self.urls[service] + path, json=body, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise BackendError(
                503,
                "backend_unreachable",
                f"The {service} service did not answer ({type(exc).__name__}); try again.",
                None,
            ) from None


def _raise_refusal(service: str, response: httpx.Response) -> None:
    """``BackendError`` with the service's own code, message and request id, for a 4xx/5xx
    (whatever its body)."""
    if response.status_code < 400:
        return
    payload = _json(response)
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else {}
    raise BackendError(
        response.status_code,
        str(error.get("code") or "error"),
        str(error.get("message") or f"{service} answered {response.status_code}"),
        str(error.get("request_id") or response.headers.get("x-request-id") or "") or None,
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
