"""A hostile client at the socket: oversized and countless headers, a byte a second, idle
connections, a body that never comes, too many connections. Each is refused in the API's
shape with a request_id, on time, and the gateway's memory stays put."""

from __future__ import annotations

import asyncio
import contextlib
import re
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.integration.harness import Provisioner, gateway_process
from tests.processes import ServiceProcess
from tests.support import budget

pytestmark = pytest.mark.integration

#: The limits this test's gateway runs with: short, so refusals come quickly.
HEADER_TIMEOUT_S, BODY_TIMEOUT_S, MAX_CONNECTIONS, KEEPALIVE_S = 1.0, 1.0, 40, 4


@pytest.fixture(scope="module")
def guarded(
    kafka_bootstrap: str, catalog_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    yield from gateway_process(
        kafka_bootstrap,
        catalog_file,
        tmp_path_factory,
        TOLLWAY_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        TOLLWAY_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
        TOLLWAY_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        TOLLWAY_KEEPALIVE_S=str(KEEPALIVE_S),
    )


def _connect(gw: ServiceProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gw.port))
    sock.settimeout(budget(10))
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, object]]:
    """Read until the server closes: status, headers, JSON body."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, orjson.loads(body)


def _shaped(status: int, headers: dict[str, str], body: dict[str, object], code: str) -> None:
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == code, body
    assert error["request_id"] == headers["x-request-id"] == headers["request-id"]
    assert headers["connection"] == "close" and status >= 400


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_oversized_or_countless_headers_get_431_and_memory_stays_put(
    guarded: ServiceProcess,
) -> None:
    rss_before = _rss_mb(guarded.proc.pid)  # type: ignore[union-attr]
    socks = []
    for _ in range(20):  # twenty unfinished 8 MB heads, each cut off at the limit
        sock = _connect(guarded)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            for _ in range(128):
                sock.sendall(b"a" * 65536)
        except OSError:
            pass  # refused and closed partway: what the test wants
        socks.append(sock)
    status, headers, body = _answer(socks[0])
    assert status == 431
    _shaped(status, headers, body, "request_header_fields_too_large")
    assert _rss_mb(guarded.proc.pid) - rss_before < 40  # type: ignore[union-attr]
    # A client still sending when it is refused gets the refusal, not a connection reset.
    many = _connect(guarded)
    lines = b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))
    with contextlib.suppress(OSError):
        many.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + lines)
        many.sendall(b"X-More: " + b"m" * 4 * 1024 * 1024)
    status, headers, body = _answer(many)
    _shaped(status, headers, body, "request_header_fields_too_large")
    for _ in range(32):  # the server lingers: what still comes is read and dropped, no reset
        many.sendall(b"m" * 65536)


def test_a_slow_or_silent_client_is_cut_off_with_408(guarded: ServiceProcess) -> None:
    silent = _connect(guarded)
    started = time.monotonic()
    status, headers, body = _answer(silent)
    assert status == 408 and time.monotonic() - started < HEADER_TIMEOUT_S + budget(2)
    _shaped(status, headers, body, "request_timeout")
    _trickled_head_is_cut_off(_connect(guarded))


def _trickled_head_is_cut_off(sock: socket.socket) -> None:
    """A head sent a byte every 0.2 s on ``sock`` gets a shaped 408 at the header limit."""
    started = time.monotonic()
    try:
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n":
            sock.sendall(bytes([byte]))
            if select.select([sock], [], [], 0.2)[0]:
                break  # the refusal has come
    except OSError:
        pass
    status, headers, body = _answer(sock)
    assert status == 408 and time.monotonic() - started < HEADER_TIMEOUT_S + budget(2)
    _shaped(status, headers, body, "request_timeout")


_HEALTH = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def _one_answer(sock: socket.socket) -> bytes:
    """One keep-alive answer: its head and as much body as its content-length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "closed before answering"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    assert length is not None, head
    while len(body) < int(length[1]):
        body += sock.recv(65536)
    return head


def test_a_kept_alive_connection_idles_past_the_header_limit_then_closes_quietly(
    guarded: ServiceProcess,
) -> None:
    """Idle between requests is keep-alive, not a slow head: no unsolicited 408 at the header
    limit (a client reusing the connection then would read it as its answer), and the close
    after TOLLWAY_KEEPALIVE_S comes with no bytes at all."""
    sock = _connect(guarded)
    sock.sendall(_HEALTH)
    assert _one_answer(sock).startswith(b"HTTP/1.1 200")
    # Idle for twice the header limit, well inside keep-alive: the subject of the test.
    assert not select.select([sock], [], [], 2 * HEADER_TIMEOUT_S)[0], "the gateway spoke"
    sock.sendall(_HEALTH)
    assert _one_answer(sock).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    assert sock.recv(65536) == b""  # closed, nothing said
    assert KEEPALIVE_S - budget(0.5) < time.monotonic() - started < KEEPALIVE_S + budget(2)


def test_a_kept_alive_connection_that_trickles_its_next_head_still_gets_408(
    guarded: ServiceProcess,
) -> None:
    sock = _connect(guarded)
    sock.sendall(_HEALTH)
    assert _one_answer(sock).startswith(b"HTTP/1.1 200")
    _trickled_head_is_cut_off(sock)


async def test_a_body_that_never_comes_is_a_408(
    guarded: ServiceProcess, provision: Provisioner
) -> None:
    tenant = await Provisioner(provision.kafka, guarded).tenant()
    sock = _connect(guarded)
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {tenant.secret}\r\nContent-Length: 1000\r\n\r\n{{"
    )
    sock.sendall(head.encode())
    started = time.monotonic()
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        data += await asyncio.to_thread(sock.recv, 65536)
    assert data.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < BODY_TIMEOUT_S + budget(2)
    body = orjson.loads(data.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "request_timeout" and body["error"]["request_id"]


def test_connections_beyond_the_cap_get_503(guarded: ServiceProcess) -> None:
    held = [_connect(guarded) for _ in range(MAX_CONNECTIONS)]
    extra = _connect(guarded)
    status, headers, body = _answer(extra)
    assert status == 503
    _shaped(status, headers, body, "too_many_connections")
    for sock in held:
        sock.close()


def test_a_control_character_in_a_header_is_a_shaped_400(guarded: ServiceProcess) -> None:
    sock = _connect(guarded)
    sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-Odd: a\x01b\r\n\r\n")
    status, headers, body = _answer(sock)
    assert status == 400
    assert body["type"] == "error" and body["request_id"] == headers["x-request-id"]  # Anthropic's
