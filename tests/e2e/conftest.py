"""One stack for the end-to-end suite, started the way a newcomer starts it: ``make run``'s
runner, with its own Kafka broker, data folder and ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stack import RunningStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = RunningStack(
        tmp_path_factory.mktemp("e2e") / "data", TOLLWAY_ADMIN_TOKEN="e2e-admin-token"
    ).start()
    yield running
    assert running.stop() == 0, "".join(running.output[-20:])
