"""``python -m services.console``: the web console for members, finance, support and
operators."""

from __future__ import annotations

from typing import Any

from schemas.serving import serve

from .bootstrap import create_app
from .settings import ConsoleSettings


def main() -> None:
    def build() -> tuple[Any, str, int]:
        settings = ConsoleSettings()
        return create_app(settings), settings.host, settings.port

    serve("tollway-console", build)


if __name__ == "__main__":
    main()
