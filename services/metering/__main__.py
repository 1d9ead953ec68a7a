"""``python -m services.metering``: serve metering."""

from __future__ import annotations

from schemas.serving import serve_service

from .bootstrap import create_app
from .settings import MeteringSettings


def main() -> None:
    serve_service("tollway-metering", MeteringSettings, create_app)


if __name__ == "__main__":
    main()
