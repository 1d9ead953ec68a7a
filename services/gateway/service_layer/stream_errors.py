"""A stream that breaks after its head was sent ends with an error in the surface's shape:
the client already has a 200, so the error travels as the stream's last event."""

from __future__ import annotations

import orjson

from ..domain.protocols._sse import sse_event
from ..domain.protocols.openai_responses.stream import ResponsesPassthrough, ResponsesWriter
from ..domain.protocols.surfaces import PassWriter, Surface, Writer
from ..errors import GatewayError, openai_body

__all__ = ["stream_error"]


def stream_error(
    surface: Surface, writer: Writer | PassWriter, error: GatewayError, request_id: str
) -> bytes:
    message = f"{error.message} (request_id {request_id})"
    if isinstance(writer, ResponsesWriter | ResponsesPassthrough):
        return writer.failed(error.code, message)
    if surface.anthropic:
        kind = "timeout_error" if error.status == 504 else "api_error"
        return sse_event("error", {"error": {"type": kind, "message": message}})
    return b"data: " + orjson.dumps(openai_body(error, request_id)) + b"\n\n"
