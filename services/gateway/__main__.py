"""``python -m services.gateway``: serve the gateway: one process, or with
``TOLLWAY_GATEWAY_WORKERS`` > 1 a supervisor and that many worker processes on one port
(``entrypoints/workers.py``)."""

from __future__ import annotations

import gc
import socket
import sys

import uvicorn

from .bootstrap import create_app
from .domain.catalog import CatalogError
from .entrypoints.guarded_http import GuardedHttpToolsProtocol, Limits
from .entrypoints.workers import die_with_parent, supervise
from .logs import configure
from .settings import GatewaySettings


def main() -> None:
    try:
        settings = GatewaySettings()
    except ValueError as exc:
        print(f"tollway-gateway: {exc}", file=sys.stderr)
        sys.exit(1)
    configure(settings.log_level, settings.access_log)
    if settings.worker is not None:
        die_with_parent()
    try:
        app = create_app(settings)  # the catalog is read here: a bad one stops the start
    except CatalogError as exc:
        print(f"tollway-gateway: {exc}", file=sys.stderr)
        sys.exit(1)
    if settings.workers > 1 and settings.listen_fd is None:
        sys.exit(supervise(settings.host, settings.port, settings.workers))
    # Everything imported so far lives for the whole process: keep it out of the GC's
    # scans, and collect the young generation less often (short GC pauses were the tail).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    GuardedHttpToolsProtocol.limits = Limits(
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        header_timeout_s=settings.header_timeout_s,
        max_connections=settings.max_connections,
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        loop="uvloop",
        http=GuardedHttpToolsProtocol,
        timeout_keep_alive=settings.keepalive_s,
        access_log=False,
        log_config=None,
        proxy_headers=False,  # the gateway's own middleware is all a request passes through
        server_header=False,
    )
    server = uvicorn.Server(config)
    if settings.listen_fd is None:
        server.run()
    else:  # a worker: the supervisor's socket, already bound and listening
        server.run(sockets=[socket.socket(fileno=settings.listen_fd)])


if __name__ == "__main__":
    main()
