"""Sending one delivery: an HTTP POST signed as Standard Webhooks specify (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``), with the library that implements them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from standardwebhooks.webhooks import Webhook

__all__ = ["HttpSender"]


class HttpSender:
    def __init__(self, timeout_s: float) -> None:
        # No redirects: a receiver's answer is its own, and a redirect could point anywhere.
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def send(
        self, url: str, secret: str, message_id: str, payload: dict[str, Any]
    ) -> tuple[int | None, str]:
        """The receiver's status code (None if it gave none) and what went wrong, if anything."""
        data = orjson.dumps(payload).decode()
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": "Tollway-Webhooks/1",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, now, data),
        }
        try:
            reply = await self._client.post(url, content=data, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        error = "" if reply.is_success else f"HTTP {reply.status_code}"
        return reply.status_code, error

    async def close(self) -> None:
        await self._client.aclose()
