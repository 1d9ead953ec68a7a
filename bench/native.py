"""A fixed upstream (nginx) and a load generator (wrk) that cost next to nothing a request.

The workers benchmark asks how the gateway's throughput grows with its cores. On a 2-core
machine the load generator and the upstream share those cores: the Python ones
(``bench.loadgen``, the simulator) take about as much CPU a request as the gateway, which
caps what a second worker can show. nginx answering one fixed chat completion and wrk
driving it serve ~237,000 requests/s together on this machine (2026-12-02, ``wrk -t1 -c64``
against nginx), so at the gateway's few thousand a second they take a few percent. Both are
Debian packages (``make bench-tools``).
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from infra.procs import dying_with_parent

__all__ = ["fixed_upstream", "wrk"]

#: What the fixed upstream answers to every request: a chat completion with its usage.
ANSWER = {
    "id": "chatcmpl-fixed",
    "object": "chat.completion",
    "created": 1764700000,
    "model": "sim-small",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": " ".join(["word"] * 20)},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 8, "completion_tokens": 20, "total_tokens": 28},
}


def _need(tool: str) -> str:
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError(f"{tool} is not installed: run make bench-tools")
    return found


@contextmanager
def fixed_upstream(work: Path, port: int) -> Iterator[str]:
    """nginx on 127.0.0.1:``port`` answering ``ANSWER`` to anything; yields its base URL."""
    root = work / "nginx"
    root.mkdir(parents=True, exist_ok=True)
    body = orjson.dumps(ANSWER).decode().replace("'", "\\'")
    (root / "nginx.conf").write_text(
        "worker_processes 1;\ndaemon off;\n"
        f"pid {root}/nginx.pid;\nerror_log {root}/error.log warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n  access_log off;\n"
        f"  client_body_temp_path {root}/body;\n"
        "  server {\n"
        f"    listen 127.0.0.1:{port};\n    keepalive_requests 1000000;\n"
        f"    location / {{ default_type application/json; return 200 '{body}'; }}\n"
        "  }\n}\n"
    )
    proc = subprocess.Popen(
        dying_with_parent([_need("nginx"), "-p", str(root), "-c", str(root / "nginx.conf")]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"nginx did not start: {err}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_P = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(
    url: str, body: dict[str, Any], headers: dict[str, str], connections: int, seconds: float
) -> dict[str, float]:
    """POST ``body`` to ``url`` from ``connections`` keep-alive connections for ``seconds``:
    requests/s, p50 and p99 in ms, and the answers that were not 2xx or failed."""
    script = "wrk.method = 'POST'\nwrk.body = [[" + orjson.dumps(body).decode() + "]]\n"
    script += "wrk.headers['Content-Type'] = 'application/json'\n"
    for name, value in headers.items():
        script += f"wrk.headers[{name!r}] = {value!r}\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        done = subprocess.run(
            [
                _need("wrk"),
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "-s",
                lua.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    out = done.stdout
    rps = _RPS.search(out)
    if rps is None:
        raise RuntimeError(f"wrk printed no rate:\n{out}\n{done.stderr}")
    latency = {q: float(v) * _UNIT[u] for q, v, u in _P.findall(out)}
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return {
        "rps": float(rps.group(1)),
        "p50_ms": round(latency.get("50", 0.0), 3),
        "p99_ms": round(latency.get("99", 0.0), 3),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0),
    }
