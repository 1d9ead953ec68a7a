"""How every admin-side service process starts: JSON logs on stderr, its settings read and
its app built (a setting it cannot start with is one line on stderr and exit code 1, not a
traceback), then served by uvicorn on uvloop and httptools."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import uvicorn

from .admin_access import TokenBook

__all__ = ["serve", "serve_service"]

S = TypeVar("S", bound="_Served")


def serve(name: str, build: Callable[[], tuple[Any, str, int]]) -> None:
    """``build()`` returns (app, host, port); ``name`` prefixes a startup error."""
    logging.basicConfig(
        level="INFO",
        format='{"ts":"%(asctime)s","level":"%(levelname)s",'
        '"logger":"%(name)s","msg":"%(message)s"}',
    )
    logging.getLogger("aiokafka").setLevel("WARNING")
    try:
        app, host, port = build()
    except (ValueError, OSError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(1)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        access_log=False,
    )


class _Served(Protocol):
    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def tokens(self) -> TokenBook: ...


def serve_service(name: str, settings: Callable[[], S], create_app: Callable[[S], Any]) -> None:
    """An admin-side service: its settings, an admin token required, its app."""

    def build() -> tuple[Any, str, int]:
        given = settings()
        given.tokens.require()
        return create_app(given), given.host, given.port

    serve(name, build)
