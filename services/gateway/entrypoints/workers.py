"""Several gateway processes on one port (``TOLLWAY_GATEWAY_WORKERS``): Python serves a
request on one core at a time, so a gateway uses a machine's cores by running one worker
process per core, as gunicorn and uvicorn's own ``--workers`` do.

The supervisor binds the port once and hands the listening socket to each worker (the
kernel spreads the connections); it restarts a worker that dies, under the same number
(so its spool, ``worker-<n>``, is replayed by its successor), and stops them all on
SIGTERM or SIGINT. Workers die with it (``PR_SET_PDEATHSIG``).

Written here rather than taken from uvicorn's ``workers=``: that restarts workers without
a stable number, and each worker's spool must outlive it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from prometheus_client import multiprocess

__all__ = ["die_with_parent", "supervise"]

log = logging.getLogger("tollway.gateway.workers")

#: How long workers get to finish their requests after SIGTERM before SIGKILL.
STOP_GRACE_S = 20.0
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Linux: get SIGTERM when the supervisor dies, however it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: a worker outlives a SIGKILLed supervisor


def supervise(host: str, port: int, workers: int) -> int:
    sock = socket.create_server((host, port), backlog=2048)
    sock.set_inheritable(True)
    # Prometheus's multiprocess mode: each worker writes its series under this folder (new
    # and empty each start, as the client library asks), a scrape adds them up.
    series = tempfile.mkdtemp(prefix="tollway-gateway-metrics-")
    env = os.environ | {
        "TOLLWAY_GATEWAY_LISTEN_FD": str(sock.fileno()),
        "PROMETHEUS_MULTIPROC_DIR": series,
    }

    def spawn(number: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "services.gateway"],
            env=env | {"TOLLWAY_GATEWAY_WORKER": str(number)},
            pass_fds=(sock.fileno(),),
        )

    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = {n: spawn(n) for n in range(workers)}
    log.info("gateway workers started", extra={"workers": workers, "port": port})
    while not stopping:
        time.sleep(0.2)
        for number, proc in list(procs.items()):
            if proc.poll() is not None and not stopping:
                multiprocess.mark_process_dead(proc.pid, series)  # type: ignore[no-untyped-call]
                log.error(
                    "a gateway worker exited; starting it again",
                    extra={"worker": number, "code": proc.returncode},
                )
                time.sleep(1)  # a worker failing at start must not spin
                procs[number] = spawn(number)
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for proc in procs.values():
        try:
            proc.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    sock.close()
    shutil.rmtree(series, ignore_errors=True)
    return 0
