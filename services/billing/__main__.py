"""``python -m services.billing``: the billing consumer and its admin API."""

from __future__ import annotations

import logging
import sys

import uvicorn

from .bootstrap import create_app
from .settings import BillingSettings


def main() -> None:
    logging.basicConfig(
        level="INFO",
        format='{"ts":"%(asctime)s","level":"%(levelname)s",'
        '"logger":"%(name)s","msg":"%(message)s"}',
    )
    logging.getLogger("aiokafka").setLevel("WARNING")
    try:
        settings = BillingSettings()
        app = create_app(settings)
    except (ValueError, OSError) as exc:
        print(f"tollway-billing: {exc}", file=sys.stderr)
        sys.exit(1)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        access_log=False,
    )


if __name__ == "__main__":
    main()
