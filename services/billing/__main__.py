"""``python -m services.billing``: serve billing."""

from __future__ import annotations

import uvicorn

from .entrypoints.http import create_app
from .settings import BillingSettings


def main() -> None:
    settings = BillingSettings()
    uvicorn.run(
        create_app(settings),
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
