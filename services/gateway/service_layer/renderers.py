"""How a streamed answer is written to the client, per surface.

The relay (``proxy.relay``) reads OpenAI chunks from the upstream; a renderer
turns each into the bytes its surface expects. OpenAI surfaces pass chunks
through with the public model name (and without the usage chunk unless the
client asked for it); the Anthropic surface translates them into its events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from ..domain.anthropic import StreamTranslator
from ..domain.usage import Usage
from ..errors import GatewayError, openai_body

__all__ = ["AnthropicRenderer", "OpenAIRenderer", "Renderer"]


class Renderer(Protocol):
    def head(self) -> Iterable[bytes]: ...

    def chunk(self, chunk: dict[str, Any], raw: bytes) -> Iterable[bytes]: ...

    def tail(self, usage: Usage) -> Iterable[bytes]: ...

    def error(self, error: GatewayError, request_id: str) -> bytes: ...


class OpenAIRenderer:
    def __init__(self, public_model: str, include_usage: bool) -> None:
        self.public_model = public_model
        self.include_usage = include_usage

    def head(self) -> Iterable[bytes]:
        return ()

    def chunk(self, chunk: dict[str, Any], raw: bytes) -> Iterable[bytes]:
        if "usage" in chunk and not self.include_usage:
            if not chunk.get("choices"):
                return ()
            chunk.pop("usage")
        elif chunk.get("model") == self.public_model:
            return (b"data: " + raw + b"\n\n",)  # nothing to change: pass the bytes through
        chunk["model"] = self.public_model
        return (b"data: " + orjson.dumps(chunk) + b"\n\n",)

    def tail(self, usage: Usage) -> Iterable[bytes]:
        return (b"data: [DONE]\n\n",)

    def error(self, error: GatewayError, request_id: str) -> bytes:
        return b"data: " + orjson.dumps(openai_body(error, request_id)) + b"\n\n"


class AnthropicRenderer:
    def __init__(self, public_model: str, prompt_estimate: int) -> None:
        self._translator = StreamTranslator(public_model, prompt_estimate)

    def head(self) -> Iterable[bytes]:
        return (self._translator.start(),)

    def chunk(self, chunk: dict[str, Any], raw: bytes) -> Iterable[bytes]:
        return self._translator.chunk(chunk)

    def tail(self, usage: Usage) -> Iterable[bytes]:
        return self._translator.finish(usage)

    def error(self, error: GatewayError, request_id: str) -> bytes:
        kind = "timeout_error" if error.status == 504 else "api_error"
        return self._translator.error(kind, f"{error.message} (request_id {request_id})")
