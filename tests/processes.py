"""Services as real processes for tests: start, wait healthy, stop, show their log on failure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from infra.procs import dying_with_parent, wait_healthy

__all__ = ["ServiceProcess"]


class ServiceProcess:
    def __init__(self, module: str, port: int, env: dict[str, str], log_dir: Path) -> None:
        self.module, self.port = module, port
        self.env = {**os.environ, **env}
        self.log = log_dir / f"{module.rsplit('.', 1)[-1]}-{port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, health: str = "/healthz", timeout: float = 60) -> ServiceProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                dying_with_parent([sys.executable, "-m", self.module]),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        proc = self.proc
        if not wait_healthy(self.url + health, timeout, lambda: proc.poll() is None):
            self.stop()
            raise RuntimeError(f"{self.module} did not start:\n{self.tail()}")
        return self

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def notable(self, lines: int = 40) -> str:
        """The last ``lines`` distinct warnings and errors of its log (a failed test shows them:
        on CI they are all there is to read)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        seen: dict[str, str] = {}
        for line in text.splitlines():
            if '"WARNING"' in line or '"ERROR"' in line or '"CRITICAL"' in line:
                seen.pop(line[40:160], None)
                seen[line[40:160]] = line[:600]  # once per message, in its last place
        return "\n".join(list(seen.values())[-lines:])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
