"""``python -m services.gateway``: serve the gateway (one process, one core)."""

from __future__ import annotations

import gc
import sys

import uvicorn

from .bootstrap import create_app
from .domain.catalog import CatalogError
from .logs import configure
from .settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    configure(settings.log_level, settings.access_log)
    try:
        app = create_app(settings)
    except CatalogError as exc:
        print(f"tollway-gateway: {exc}", file=sys.stderr)
        sys.exit(1)
    # Everything imported so far lives for the whole process: keep it out of the GC's
    # scans, and collect the young generation less often (short GC pauses were the tail).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        proxy_headers=False,  # the gateway's own middleware is all a request passes through
        server_header=False,
    )


if __name__ == "__main__":
    main()
