"""``make run``: Kafka, topics, the upstream simulator and the three services, in order.

Prints where the gateway listens, then waits. Ctrl-C (or SIGTERM) stops every
process it started, in reverse order. A second run on the same data folder
stops at once with a message instead of clashing on ports.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from infra.kafka.broker import KafkaBroker, port_is_free, wait_for_kafka
from infra.kafka.errors import InfraError
from infra.kafka.topics import ensure_topics
from infra.procs import spawn, stop, wait_healthy
from schemas.admin_access import add_token, local_token_file, new_token, tokens_file
from schemas.settings import SettingError, env_int, env_path, env_port, env_text

__all__ = ["StackConfig", "main"]


@dataclass(frozen=True)
class StackConfig:
    data_dir: Path = field(default_factory=lambda: env_path("TOLLWAY_DATA_DIR", "data").resolve())
    kafka_bootstrap: str | None = field(
        default_factory=lambda: env_text("KAFKA_BOOTSTRAP_SERVERS") or None
    )
    kafka_port: int = field(default_factory=lambda: env_port("TOLLWAY_KAFKA_PORT", 9092))
    kafka_controller_port: int = field(
        default_factory=lambda: env_port("TOLLWAY_KAFKA_CONTROLLER_PORT", 9093)
    )
    gateway_port: int = field(default_factory=lambda: env_port("TOLLWAY_GATEWAY_PORT", 8080))
    billing_port: int = field(default_factory=lambda: env_port("TOLLWAY_BILLING_PORT", 8081))
    metering_port: int = field(default_factory=lambda: env_port("TOLLWAY_METERING_PORT", 8082))
    dispatcher_port: int = field(default_factory=lambda: env_port("TOLLWAY_DISPATCHER_PORT", 8084))
    simulator_port: int = field(default_factory=lambda: env_port("TOLLWAY_SIMULATOR_PORT", 8090))
    console_port: int = field(default_factory=lambda: env_port("TOLLWAY_CONSOLE_PORT", 8083))
    #: How long to wait for an existing cluster named by KAFKA_BOOTSTRAP_SERVERS.
    kafka_wait_seconds: int = field(
        default_factory=lambda: env_int("TOLLWAY_KAFKA_WAIT_SECONDS", 15, low=1)
    )

    def services(self) -> list[tuple[str, int, str]]:
        """(name, port, port variable), in start order: the gateway, then the console, last."""
        return [
            ("simulator", self.simulator_port, "TOLLWAY_SIMULATOR_PORT"),
            ("metering", self.metering_port, "TOLLWAY_METERING_PORT"),
            ("billing", self.billing_port, "TOLLWAY_BILLING_PORT"),
            ("dispatcher", self.dispatcher_port, "TOLLWAY_DISPATCHER_PORT"),
            ("gateway", self.gateway_port, "TOLLWAY_GATEWAY_PORT"),
            ("console", self.console_port, "TOLLWAY_CONSOLE_PORT"),
        ]


class Stack:
    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.broker: KafkaBroker | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock: IO[str] | None = None

    def _take_lock(self) -> None:
        try:
            self.cfg.data_dir.mkdir(parents=True, exist_ok=True)
            lock = (self.cfg.data_dir / "run.lock").open("a+")
        except OSError as exc:
            raise InfraError(
                f"cannot use data folder {self.cfg.data_dir}: {exc.strerror} "
                "(set TOLLWAY_DATA_DIR to a writable folder)"
            ) from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            pid = lock.read().strip() or "?"
            raise InfraError(
                f"another `make run` (pid {pid}) is already using {self.cfg.data_dir}; "
                "stop it, or set TOLLWAY_DATA_DIR and the TOLLWAY_*_PORT variables"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock

    def start(self) -> None:
        self._take_lock()
        taken: dict[int, str] = {}
        kafka = [
            ("Kafka", self.cfg.kafka_port, "TOLLWAY_KAFKA_PORT"),
            ("Kafka", self.cfg.kafka_controller_port, "TOLLWAY_KAFKA_CONTROLLER_PORT"),
        ]
        for _name, port, var in (kafka if not self.cfg.kafka_bootstrap else []) + list(
            self.cfg.services()
        ):
            if port in taken:
                raise InfraError(f"{taken[port]} and {var} are both {port}: give each its own")
            taken[port] = var
        for name, port, var in self.cfg.services():
            if not port_is_free(port):
                raise InfraError(
                    f"port {port} for the {name} is already in use: free it or set {var}"
                )
        facing = facing_tokens(self.cfg.data_dir)
        bootstrap = self._start_kafka()
        created = asyncio.run(ensure_topics(bootstrap))
        print(f"kafka     {bootstrap}  ({len(created)} topics created)", flush=True)
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "TOLLWAY_DATA_DIR": str(self.cfg.data_dir),
            "TOLLWAY_UPSTREAM_BASE_URL": f"http://127.0.0.1:{self.cfg.simulator_port}/v1",
            "TOLLWAY_ADMIN_TOKEN": admin_token(self.cfg.data_dir),
            # A local run may deliver alerts to a receiver on this machine, over http.
            "TOLLWAY_WEBHOOK_ALLOW_HTTP": os.environ.get("TOLLWAY_WEBHOOK_ALLOW_HTTP", "1"),
        }
        for _name, port, var in self.cfg.services():
            env[var] = str(port)
        for name, port, _ in self.cfg.services():
            log = self.cfg.data_dir / "logs" / f"{name}.log"
            own = env
            if name in facing:  # its own token instead of the operator's
                own = {k: v for k, v in env.items() if k != "TOLLWAY_ADMIN_TOKEN"} | facing[name]
            proc = spawn([sys.executable, "-m", f"services.{name}"], log, own)
            self.procs[name] = proc
            alive = functools.partial(_running, proc)
            if not wait_healthy(f"http://127.0.0.1:{port}/healthz", 60, alive):
                raise InfraError(
                    f"the {name} did not become healthy: {_last_line(log)} (log: {log})"
                )
            print(f"{name:<9} http://127.0.0.1:{port}", flush=True)

    def _start_kafka(self) -> str:
        if self.cfg.kafka_bootstrap:
            wait_for_kafka(self.cfg.kafka_bootstrap, timeout=self.cfg.kafka_wait_seconds)
            return self.cfg.kafka_bootstrap
        self.broker = KafkaBroker(
            self.cfg.data_dir / "kafka", self.cfg.kafka_port, self.cfg.kafka_controller_port
        )
        self.broker.start()
        return self.broker.bootstrap_servers

    def watch(self) -> str:
        """Block until a signal arrives or a service exits; say which."""
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD})
        while True:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    return f"the {name} exited with code {proc.returncode}"
            if (
                self.broker is not None
                and self.broker.proc is not None
                and self.broker.proc.poll() is not None
            ):
                return "the Kafka broker exited"
            got = signal.sigtimedwait({signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}, 1.0)
            if got is not None and got.si_signo != signal.SIGCHLD:
                return ""

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            stop(proc)
        self.procs.clear()
        if self.broker is not None:
            self.broker.stop()
        if self._lock is not None:
            self._lock.close()


def admin_token(data_dir: Path) -> str:
    """TOLLWAY_ADMIN_TOKEN if set; else the local run's own, made once into the data folder
    (readable by its owner only), where the ``tollway`` CLI finds it by itself."""
    given = os.environ.get("TOLLWAY_ADMIN_TOKEN")
    if given:
        return given
    path = local_token_file(data_dir)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return _kept(path, new_token())


def _kept(path: Path, token: str) -> str:
    """``token``, written to ``path`` readable by its owner only."""
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token


#: The services that face clients, and the variable each takes its own admin token from.
FACING = {"gateway": "TOLLWAY_GATEWAY_TOKEN", "console": "TOLLWAY_CONSOLE_TOKEN"}


def facing_tokens(data_dir: Path) -> dict[str, dict[str, str]]:
    """The environment that gives each service facing clients its own token, with the
    support scope only, not the operator's (all it needs: usage and request lookups for a
    key holder or member): the one set in the environment, else one made anew in the
    tokens file at each start, named after the service (the old one stops working) and
    kept in ``<data>/<service>-token`` (owner-only: the gateway's ``/metrics`` takes it)."""
    path = tokens_file(data_dir)
    given: dict[str, dict[str, str]] = {}
    for name, var in FACING.items():
        token = os.environ.get(var)
        if not token:
            try:
                made = add_token(path, name, ["support"], replace=True)
            except ValueError as exc:  # a hand-edited file that does not parse
                raise InfraError(f"{exc}: fix or remove it") from None
            except OSError as exc:
                raise InfraError(f"cannot write the tokens file {path}: {exc.strerror}") from None
            token = _kept(data_dir / f"{name}-token", made)
        given[name] = {var: token}
    return given


def _running(proc: subprocess.Popen[bytes]) -> bool:
    return proc.poll() is None


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "empty log"


def _banner(cfg: StackConfig) -> str:
    gw = f"http://127.0.0.1:{cfg.gateway_port}"
    body = '{"model":"sim-small","messages":[{"role":"user","content":"hi"}]}'
    return f"""
Tollway is running. Gateway: {gw}/v1   (data: {cfg.data_dir}, logs: {cfg.data_dir / "logs"})
  Console: http://127.0.0.1:{cfg.console_port}   (sign in with the admin token below)
  Billing admin: http://127.0.0.1:{cfg.billing_port}   Metering: http://127.0.0.1:{cfg.metering_port}
  Webhook dispatcher: http://127.0.0.1:{cfg.dispatcher_port}
  Admin token: {local_token_file(cfg.data_dir)} (the tollway CLI reads it from there)
  Upstream simulator: http://127.0.0.1:{cfg.simulator_port}/v1

Next, in another terminal:
  ACCOUNT=$(.venv/bin/tollway accounts create "My team")
  .venv/bin/tollway topup $ACCOUNT 20
  export TOLLWAY_API_KEY=$(.venv/bin/tollway keys create $ACCOUNT)
  curl {gw}/v1/chat/completions -H "Authorization: Bearer $TOLLWAY_API_KEY" \\
    -H 'content-type: application/json' -d '{body}'
Press Ctrl-C to stop everything.
"""


def main() -> int:
    stack: Stack | None = None
    try:
        stack = Stack(StackConfig())
        stack.start()
        print(_banner(stack.cfg), flush=True)
        reason = stack.watch()
    except (InfraError, SettingError) as exc:
        print(f"tollway: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        reason = ""
    finally:
        if stack is not None:
            if stack.procs or stack.broker is not None:
                print("stopping...", flush=True)
            stack.stop()
    if reason:
        print(f"tollway: {reason}; everything stopped", file=sys.stderr)
        return 1
    print("stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
