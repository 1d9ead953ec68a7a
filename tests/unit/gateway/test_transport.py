"""The upstream transport against a small in-process HTTP/1.1 server: framing, keep-alive,
stale connections and timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from services.gateway.adapters.transport import PooledTransport

Respond = Callable[[bytes], bytes]


class Server:
    """Answers each request on a connection with ``respond(request)``; counts connections."""

    def __init__(self, respond: Respond, close_after: int | None = None) -> None:
        self.respond, self.close_after = respond, close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.respond(request)
                if answer:
                    writer.write(answer)
                    await writer.drain()
                served += 1
                if self.close_after is not None and served >= self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()


def _fixed(body: bytes) -> Respond:
    return lambda _: b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


@pytest.fixture
async def transport() -> AsyncIterator[PooledTransport]:
    t = PooledTransport()
    yield t
    await t.aclose()


def test_a_target_holds_the_request_head() -> None:
    target = PooledTransport.target(
        "https://user:pw@api.example.com/v1/chat?x=1", {"authorization": "Bearer k", "Host": "no"}
    )
    assert target.origin == ("https", "api.example.com", 443)
    assert target.head.startswith(b"POST /v1/chat?x=1 HTTP/1.1\r\nhost: api.example.com\r\n")
    assert b"authorization: Bearer k\r\n" in target.head and b"Host: no" not in target.head
    with pytest.raises(ValueError):
        PooledTransport.target("ftp://example.com/x", {})


async def test_keep_alive_reuses_one_connection(transport: PooledTransport) -> None:
    server = Server(_fixed(b'{"ok": true}'))
    async with server as url:
        target = transport.target(url + "/v1/x", {"content-type": "application/json"})
        for n in range(5):
            reply = await transport.send(target, b'{"n": %d}' % n, 5)
            assert (reply.status, await reply.body.read()) == (200, b'{"ok": true}')
            await reply.body.aclose()
    assert server.connections == 1
    assert server.requests[3].endswith(b'\r\n\r\n{"n": 3}')
    assert b"content-length: 8\r\n" in server.requests[3]


async def test_chunked_pieces_come_out_whole(transport: PooledTransport) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    server = Server(lambda _: chunked)
    async with server as url:
        target = transport.target(url + "/s", {})
        for _ in range(2):  # the connection is reused after a chunked body too
            reply = await transport.send(target, b"{}", 5)
            assert b"".join([piece async for piece in reply.body]) == b"hello world"
            await reply.body.aclose()
    assert server.connections == 1


async def test_a_connection_the_server_closed_is_replaced_not_an_error(
    transport: PooledTransport,
) -> None:
    server = Server(_fixed(b"{}"), close_after=1)
    async with server as url:
        target = transport.target(url + "/x", {})
        for _ in range(3):
            reply = await transport.send(target, b"{}", 5)
            assert await reply.body.read() == b"{}"
            await reply.body.aclose()
            await asyncio.sleep(0)
    assert server.connections == 3


async def test_failures_are_httpx_errors(transport: PooledTransport) -> None:
    async with Server(lambda _: b"") as url:  # never answers
        with pytest.raises(httpx.ReadTimeout):
            await transport.send(transport.target(url + "/x", {}), b"{}", 0.2)
    truncated = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort"
    async with Server(lambda _: truncated, close_after=1) as url:
        reply = await transport.send(transport.target(url + "/x", {}), b"{}", 5)
        with pytest.raises(httpx.RemoteProtocolError):
            await reply.body.read()
        await reply.body.aclose()
    with pytest.raises(httpx.ConnectError):
        await transport.send(transport.target("http://127.0.0.1:9/x", {}), b"{}", 5)
