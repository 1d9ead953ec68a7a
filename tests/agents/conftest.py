"""The coding agents, as ``make test`` installs them (``npm ci`` of ``tests/agents``' lock file
into ``.tools/agents``), each run headless in a home and a working folder of its own."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.stack import RunningStack
from tests.support import budget

AGENTS = Path(__file__).parents[2] / ".tools" / "agents" / "node_modules" / ".bin"


@dataclass
class Run:
    code: int
    out: str

    def answer(self) -> str:
        assert self.code == 0, self.out[-3000:]
        return self.out


@dataclass
class Agent:
    """One agent's command, home and working folder (a user's machine, made small)."""

    command: str
    home: Path
    work: Path

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> Run:
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TERM")}
        done = subprocess.run(
            [str(AGENTS / self.command), *args],
            cwd=self.work,
            env={**base, "HOME": str(self.home), **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=budget(timeout),
            check=False,
        )
        return Run(done.returncode, done.stdout + done.stderr)


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The agents' own ``make run`` stack."""
    with RunningStack.session(tmp_path_factory, "agents") as running:
        yield running


@pytest.fixture
def agent(tmp_path: Path) -> Callable[[str], Agent]:
    if not (AGENTS / "claude").exists():
        pytest.fail("the coding agents are not installed: `make test` installs them (needs npm)")

    def make(command: str) -> Agent:
        home, work = tmp_path / f"{command}-home", tmp_path / f"{command}-work"
        home.mkdir()
        work.mkdir()
        return Agent(command, home, work)

    return make
