"""``python -m services.billing``: the billing consumer and its admin API."""

from __future__ import annotations

from schemas.serving import serve_service

from .bootstrap import create_app
from .settings import BillingSettings


def main() -> None:
    serve_service("tollway-billing", BillingSettings, create_app)


if __name__ == "__main__":
    main()
