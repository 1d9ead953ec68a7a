"""One stack for the end-to-end suite, started the way a newcomer starts it: ``make run``'s
runner, with its own Kafka broker, data folder and ports. It stops when the package's last
test is done (the suites after it should not share two cores with an idle stack)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stack import RunningStack


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with RunningStack.session(tmp_path_factory, "e2e") as running:
        yield running
