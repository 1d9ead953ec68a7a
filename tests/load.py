"""One chat request as a load client sends it, and what it must cost."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.pricing import openai_cost_of_dict

__all__ = ["chat_once"]


async def chat_once(
    http: httpx.AsyncClient,
    model: str,
    stream: bool,
    text: str,
    headers: dict[str, str] | None = None,
    max_tokens: int = 6,
) -> tuple[str, int] | None:
    """(request_id, priced cost) of one chat, or None unless it fully succeeded (a streamed
    one: ``[DONE]`` and a usage chunk)."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": f"request {text}"}],
    }
    try:
        if not stream:
            response = await http.post("/v1/chat/completions", json=body, headers=headers)
            if response.status_code != 200:
                return None
            usage = response.json()["usage"]
            return response.headers["x-request-id"], openai_cost_of_dict(model, usage)
        body |= {"stream": True, "stream_options": {"include_usage": True}}
        async with http.stream(
            "POST", "/v1/chat/completions", json=body, headers=headers
        ) as response:
            if response.status_code != 200:
                return None
            usage, done = None, False
            async for line in response.aiter_lines():
                if line == "data: [DONE]":
                    done = True
                elif line.startswith("data: "):
                    usage = orjson.loads(line[6:]).get("usage") or usage
            if not done or usage is None:
                return None
            return response.headers["x-request-id"], openai_cost_of_dict(model, usage)
    except httpx.HTTPError:
        return None
