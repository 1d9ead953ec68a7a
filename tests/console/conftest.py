"""The console on ``make run``'s stack, in headless Chromium (Debian's package, driven by
Playwright; ``make test`` installs it). Screenshots of every page go to
``build/screenshots/console/`` for a reviewer to look at."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.stack import RunningStack

CHROMIUM = os.environ.get("TOLLWAY_CHROMIUM") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "console"


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with RunningStack.session(tmp_path_factory, "console") as running:
        yield running


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs Debian's package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Shots:
    """Full-page screenshots, numbered in the order the story takes them."""

    def __init__(self) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        for old in SHOTS.glob("*.png"):  # this run's pages only
            old.unlink()
        self.taken = 0

    def __call__(self, page: Page, name: str) -> None:
        self.taken += 1
        page.screenshot(path=str(SHOTS / f"{self.taken:02d}-{name}.png"), full_page=True)


@pytest.fixture(scope="package")
def shots() -> Shots:
    return Shots()
