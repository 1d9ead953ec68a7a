"""``python -m services.gateway``: serve the gateway."""

from __future__ import annotations

import uvicorn

from .entrypoints.http import create_app
from .settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
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
