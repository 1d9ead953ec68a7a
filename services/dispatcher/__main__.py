"""``python -m services.dispatcher``: deliver account alerts to their webhooks."""

from __future__ import annotations

from schemas.serving import serve_service

from .bootstrap import create_app
from .settings import DispatcherSettings


def main() -> None:
    serve_service("tollway-dispatcher", DispatcherSettings, create_app)


if __name__ == "__main__":
    main()
