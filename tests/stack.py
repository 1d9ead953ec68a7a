"""The whole stack exactly as ``make run`` starts it (``python -m infra.run``), on free ports
and a folder of its own, with its own Kafka broker; and the ``tollway`` CLI pointed at it."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from schemas.admin_access import local_token_file
from tests.support import budget, free_port

__all__ = ["SERVICES", "RunningStack", "stack_env", "tollway_cli"]

SERVICES = ("SIMULATOR", "METERING", "BILLING", "DISPATCHER", "GATEWAY", "CONSOLE")


def stack_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env |= {
        "TOLLWAY_DATA_DIR": str(data_dir),
        "TOLLWAY_KAFKA_PORT": str(free_port()),
        "TOLLWAY_KAFKA_CONTROLLER_PORT": str(free_port()),
    }
    env |= {f"TOLLWAY_{name}_PORT": str(free_port()) for name in SERVICES}
    return env | extra


def tollway_cli(
    admin_url: str | None, metering_url: str | None, token: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run the ``tollway`` CLI against these APIs (None: the CLI's own default)."""
    env = {**os.environ, "TOLLWAY_ADMIN_TOKEN": token}
    for name, url in (("TOLLWAY_ADMIN_URL", admin_url), ("TOLLWAY_METERING_URL", metering_url)):
        if url is not None:
            env[name] = url
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class RunningStack:
    """``make run`` in a subprocess: started, banner awaited with a deadline, stopped by Ctrl-C."""

    def __init__(self, data_dir: Path, **extra: str) -> None:
        self.env = stack_env(data_dir, **extra)
        self.data_dir = data_dir
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.env[f'TOLLWAY_{service.upper()}_PORT']}"

    @property
    def admin_token(self) -> str:
        """The token the stack was given, or the one ``make run`` made in its data folder."""
        return (
            self.env.get("TOLLWAY_ADMIN_TOKEN")
            or local_token_file(self.data_dir).read_text().strip()
        )

    def start(self, timeout: float = 120) -> RunningStack:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "infra.run"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump(stream: Any) -> None:
            for line in stream:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + budget(timeout)
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.output.append(line)
            if "Press Ctrl-C" in line:
                return self
        self.stop()
        raise RuntimeError("the stack did not come up:\n" + "".join(self.output[-40:]))

    def stop(self, timeout: float = 60) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    @classmethod
    @contextlib.contextmanager
    def session(cls, factory: Any, name: str) -> Iterator[RunningStack]:
        """A stack of its own for one suite (the e2e story checks whole-stack totals, so no
        other suite shares its stack), stopped cleanly at the end."""
        running = cls(factory.mktemp(name) / "data", TOLLWAY_ADMIN_TOKEN=f"{name}-admin-token")
        running.start()
        try:
            yield running
        finally:
            assert running.stop() == 0, "".join(running.output[-20:])

    def cli(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        """``tollway ARGS`` against this stack, as an operator would run it."""
        done = tollway_cli(self.url("billing"), self.url("metering"), self.admin_token, *args)
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def cli_json(self, *args: str) -> dict[str, Any]:
        return dict(json.loads(self.cli(*args, "--json").stdout))
