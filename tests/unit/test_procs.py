"""Children started by the runners die with their parent, even one killed outright."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

PARENT = """
import os, sys, threading
from pathlib import Path
from infra.procs import spawn
# Busy threads in the parent, as chdb's are: spawning must not depend on them.
for _ in range(8):
    threading.Thread(target=lambda: [sum(range(1000)) for _ in iter(int, 1)], daemon=True).start()
child = spawn(["sleep", "300"], Path(sys.argv[1]), os.environ)
print(child.pid, flush=True)
os._exit(0)  # no cleanup: as if killed
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_child_dies_when_its_parent_exits_without_cleanup(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PARENT, str(tmp_path / "child.log")],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if _alive(pid):
        os.kill(pid, 9)
        pytest.fail(f"child {pid} outlived its parent")
