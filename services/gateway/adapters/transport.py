"""HTTP/1.1 to the upstreams over an O(1) keep-alive pool: the gateway's hot path.

httpcore's pool scans every pooled connection, with a ``poll`` syscall each, on
every request; profiled at 64 connections that was most of the gateway's CPU.
This transport keeps a LIFO stack of idle connections per origin and speaks
plain HTTP/1.1 over asyncio streams. It builds no httpx objects either (an
``httpx.Request`` alone, with its URL parsing, cost ~0.1 ms a call): a
``Target`` holds an endpoint's origin and request head, parsed once; a call
sends the head, a content-length and the body. Failures are raised as httpx's
own exceptions (``httpx.TimeoutException``, ``httpx.HTTPError``).

It serves what the gateway needs: request bodies as bytes, responses framed by
Content-Length, chunked encoding, or connection close. A reused connection the
server had closed is retried once on a fresh one (no byte of the response was
read, so the upstream never saw a complete request).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

__all__ = ["PooledTransport", "Reply", "Target"]

_Origin = tuple[str, str, int]


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.reused = False

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class _Body:
    """The response body, read as the caller iterates; returns the connection when done."""

    def __init__(
        self,
        transport: PooledTransport,
        origin: _Origin,
        conn: _Connection,
        length: int | None,
        chunked: bool,
        keep_alive: bool,
        read_timeout: float | None,
    ) -> None:
        self._t, self._origin, self._conn = transport, origin, conn
        self._length, self._chunked, self._keep = length, chunked, keep_alive
        self._timeout = read_timeout
        self._done = False

    async def _read(self, coro: object) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                return await coro  # type: ignore[misc,no-any-return]
        except TimeoutError:
            raise httpx.ReadTimeout("upstream read timed out") from None
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            raise httpx.RemoteProtocolError(f"upstream closed mid-response: {exc}") from None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        reader = self._conn.reader
        if self._chunked:
            async for data in self._dechunk(reader):
                yield data
        elif self._length is not None:
            left = self._length
            while left > 0:
                data = await self._read(reader.read(min(left, 65536)))
                if not data:
                    raise httpx.RemoteProtocolError("upstream closed mid-body")
                left -= len(data)
                yield data
        else:
            while data := await self._read(reader.read(65536)):
                yield data
            self._keep = False
        self._done = True

    async def _dechunk(self, reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
        """Chunked transfer decoding over whatever each network read brings: one await (and
        one timeout) per read, and the chunks one read completed come out as one piece."""
        buffer = b""
        while True:
            out: list[bytes] = []
            while (header_end := buffer.find(b"\r\n")) >= 0:
                try:
                    size = int(buffer[:header_end].split(b";")[0], 16)
                except ValueError:
                    raise httpx.RemoteProtocolError("bad chunk size from upstream") from None
                if size == 0:
                    if len(buffer) < header_end + 4:
                        break  # the blank line after the last chunk is still to come
                    if out:
                        yield b"".join(out)
                    return
                end = header_end + 2 + size + 2
                if len(buffer) < end:
                    break
                out.append(buffer[header_end + 2 : end - 2])
                buffer = buffer[end:]
            if out:
                yield b"".join(out)
            data = await self._read(reader.read(65536))
            if not data:
                raise httpx.RemoteProtocolError("upstream closed mid-response")
            buffer += data

    async def read(self) -> bytes:
        return b"".join([piece async for piece in self])

    async def aclose(self) -> None:
        if self._done and self._keep and self._conn.usable():
            self._t.release(self._origin, self._conn)
        else:
            self._conn.close()


@dataclass(frozen=True, slots=True)
class Target:
    """One upstream endpoint: where to connect, and the request head up to the body's length."""

    origin: _Origin
    head: bytes


@dataclass(slots=True)
class Reply:
    status: int
    headers: list[tuple[bytes, bytes]]
    #: Iterate it for the body's pieces as they arrive, or ``await body.read()``; then
    #: ``await body.aclose()``, which returns the connection to the pool once read to the end.
    body: _Body


class PooledTransport:
    def __init__(self, max_idle_per_origin: int = 256, connect_timeout: float = 5.0) -> None:
        self._idle: dict[_Origin, list[_Connection]] = defaultdict(list)
        self._max_idle = max_idle_per_origin
        self._connect_timeout = connect_timeout
        self._ssl = ssl.create_default_context()

    def release(self, origin: _Origin, conn: _Connection) -> None:
        idle = self._idle[origin]
        if len(idle) < self._max_idle:
            conn.reused = True
            idle.append(conn)
        else:
            conn.close()

    async def _acquire(self, origin: _Origin) -> _Connection:
        idle = self._idle[origin]
        while idle:
            conn = idle.pop()
            if conn.usable():
                return conn
            conn.close()
        scheme, host, port = origin
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=self._ssl if scheme == "https" else None, limit=1 << 20
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc.strerror}") from None
        return _Connection(reader, writer)

    @staticmethod
    def target(url: str, headers: dict[str, str]) -> Target:
        """A POST to ``url`` with ``headers``, parsed once."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {path} HTTP/1.1", f"host: {parts.netloc.rpartition('@')[2]}"]
        lines.extend(
            f"{name}: {value}"
            for name, value in headers.items()
            if name.lower() not in ("host", "content-length", "transfer-encoding")
        )
        head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        return Target((parts.scheme, parts.hostname, port), head)

    async def send(
        self, target: Target, body: bytes, read_timeout: float | None, extra: bytes = b""
    ) -> Reply:
        """Send ``body`` to ``target`` (``extra``: more header lines, each ending in CRLF);
        the reply once its head arrived (the body streams)."""
        payload = b"".join((target.head, extra, b"content-length: %d\r\n\r\n" % len(body), body))
        for attempt in range(2):
            conn = await self._acquire(target.origin)
            try:
                conn.writer.write(payload)
                return await self._response(target.origin, conn, read_timeout)
            except httpx.RemoteProtocolError:
                conn.close()
                if conn.reused and attempt == 0:
                    continue  # a stale keep-alive connection: try once on a fresh one
                raise
            except BaseException:
                conn.close()
                raise
        raise httpx.RemoteProtocolError("unreachable")  # pragma: no cover

    async def _response(
        self, origin: _Origin, conn: _Connection, read_timeout: float | None
    ) -> Reply:
        reader = conn.reader
        try:
            async with asyncio.timeout(read_timeout):
                status_line = await reader.readline()
                if not status_line:
                    raise httpx.RemoteProtocolError("upstream closed before answering")
                headers: list[tuple[bytes, bytes]] = []
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.partition(b":")
                    headers.append((name.strip(), value.strip()))
        except TimeoutError:
            raise httpx.ReadTimeout("upstream did not answer in time") from None
        except (ConnectionError, ValueError) as exc:
            raise httpx.RemoteProtocolError(f"upstream connection failed: {exc}") from None
        try:
            status = int(status_line.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise httpx.RemoteProtocolError("malformed status line from upstream") from None
        length, chunked, keep = None, False, True
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif lowered == b"connection":
                keep = value.lower() != b"close"
        return Reply(
            status, headers, _Body(self, origin, conn, length, chunked, keep, read_timeout)
        )

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
