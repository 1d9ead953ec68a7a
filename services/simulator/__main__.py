"""``python -m services.simulator [--port P]``: serve the upstream simulator."""

from __future__ import annotations

import argparse

import uvicorn

from schemas.settings import env_port

from .app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Tollway upstream model simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=env_port("TOLLWAY_SIMULATOR_PORT", 8090))
    args = parser.parse_args()
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        access_log=False,
    )


if __name__ == "__main__":
    main()
