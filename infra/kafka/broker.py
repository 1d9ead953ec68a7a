"""Apache Kafka (KRaft) from the jars Maven resolves into ``libs/``: one node, or a cluster.

``KafkaBroker`` formats storage once, starts ``kafka.Kafka`` as broker and
controller on 127.0.0.1, waits until an admin call answers, and stops it with
SIGTERM (SIGKILL after a grace period). Alone, its settings suit one node:
replication factor 1 and ``min.isr`` 1 for the internal topics, or groups and
transactions hang. ``KafkaCluster`` starts three (or more) of them as one quorum
of combined broker-controllers: internal topics with three copies and
``min.insync.replicas`` 2, so one node may die without losing a write.

Run alone: ``python -m infra.kafka.broker --data-dir data/kafka`` (Ctrl-C stops).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType

from infra.procs import dying_with_parent
from infra.procs import stop as stop_process

from .errors import InfraError

__all__ = [
    "KafkaBroker",
    "KafkaCluster",
    "ensure_jars",
    "kafka_release",
    "port_is_free",
    "server_settings",
    "wait_for_kafka",
]

HERE = Path(__file__).resolve().parent
LIBS = HERE / "libs"
_STAMP = LIBS / ".complete"


def ensure_jars() -> Path:
    """Resolve the broker's jars from Maven Central into ``libs/`` unless already there."""
    if _STAMP.exists() and _STAMP.read_text() == (HERE / "pom.xml").read_text():
        return LIBS
    _require_java()
    if shutil.which("mvn") is None:
        raise InfraError("Maven (mvn) not found: install it (apt-get install maven) to fetch Kafka")
    shutil.rmtree(LIBS, ignore_errors=True)
    cmd = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(HERE / "pom.xml"),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={LIBS}",
        "-DincludeScope=runtime",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise InfraError(f"Maven could not fetch the Kafka jars: {' | '.join(tail)}")
    _STAMP.write_text((HERE / "pom.xml").read_text())
    return LIBS


def _require_java() -> None:
    java = shutil.which("java")
    if java is None:
        raise InfraError(
            "Java not found: Kafka needs Java 17+ (apt-get install openjdk-17-jre-headless)"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    try:
        major = int(out.split('"')[1].split(".")[0])
    except (IndexError, ValueError):
        return  # an unusual version string: let the JVM itself complain if it must
    if major < 17:
        raise InfraError(f"Java {major} found, Kafka needs Java 17 or newer")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def kafka_release() -> str:
    """The Kafka release ``pom.xml`` names: the jars every test runs, the image deploys run."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", (HERE / "pom.xml").read_text())
    if found is None:
        raise InfraError("infra/kafka/pom.xml names no kafka.version")
    return found[1]


def server_settings(
    data_dir: Path,
    port: int,
    controller_port: int,
    node_id: int = 1,
    voters: str | None = None,
    copies: int = 1,
) -> dict[str, str]:
    """One node's settings; ``voters`` names the quorum (default: this node alone) and
    ``copies`` the replication of the internal topics (offsets, transactions)."""
    min_isr = str(min(2, copies))
    return {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters or f"{node_id}@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir / "logs"),
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "default.replication.factor": str(copies),
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": str(copies),
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": str(copies),
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": str(copies),
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": "0",
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        "log.cleaner.backoff.ms": "1000",
        "log.retention.hours": "168",
        "num.network.threads": "2",
        "num.io.threads": "4",
    }


async def _ping(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.describe_cluster()
    finally:
        await admin.close()


def wait_for_kafka(bootstrap: str, timeout: float = 60.0, alive: object = None) -> None:
    """Block until an admin call to ``bootstrap`` succeeds, or raise ``InfraError``.

    ``alive`` may be a callable returning False once the broker process died,
    so a crash is reported at once instead of after the timeout.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if callable(alive) and not alive():
            raise InfraError("the Kafka broker exited while starting (see its log)")
        try:
            host, _, port = bootstrap.split(",")[0].rpartition(":")
            # A plain TCP connect first: aiokafka logs every refused connection.
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
                pass
            asyncio.run(asyncio.wait_for(_ping(bootstrap), timeout=5))
            return
        except Exception as exc:  # any failure means "not yet"
            last = exc
            time.sleep(0.2)
    raise InfraError(f"Kafka at {bootstrap} did not answer within {timeout:.0f}s ({last})")


class KafkaBroker:
    """One local broker process. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        data_dir: Path,
        port: int = 9092,
        controller_port: int = 9093,
        heap: str = "768m",
        node_id: int = 1,
        voters: str | None = None,
        copies: int = 1,
        cluster_id: str | None = None,
        properties: dict[str, str] | None = None,
    ) -> None:
        """``properties`` replaces the settings made from the other arguments (a deployment
        file's, say); its ``log.dirs`` must then be ``data_dir/logs``."""
        self.data_dir = data_dir.resolve()
        self.properties = properties
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.node_id, self.voters, self.copies = node_id, voters, copies
        self.cluster_id = cluster_id or _cluster_id()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    def start(self, timeout: float = 90.0) -> None:
        self.launch()
        self.wait(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it to answer (a cluster's nodes answer only
        once a majority of the quorum runs)."""
        libs = ensure_jars()
        _require_java()
        for what, port in (
            ("KAFKA_PORT", self.port),
            ("KAFKA_CONTROLLER_PORT", self.controller_port),
        ):
            if not port_is_free(port):
                raise InfraError(f"port {port} is already in use: free it or set TOLLWAY_{what}")
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            props = self.data_dir / "server.properties"
            settings = self.properties or server_settings(
                self.data_dir,
                self.port,
                self.controller_port,
                self.node_id,
                self.voters,
                self.copies,
            )
            props.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        except OSError as exc:
            raise InfraError(
                f"cannot write Kafka's data folder {self.data_dir}: {exc.strerror}"
            ) from None
        classpath = f"{libs}/*"
        java = shutil.which("java") or "java"
        if not (self.data_dir / "logs" / "meta.properties").exists():
            fmt = subprocess.run(
                [
                    java,
                    "-cp",
                    classpath,
                    f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}",
                    "kafka.tools.StorageTool",
                    "format",
                    # One token: an id starting with "-" (1 in 64) would read as a flag.
                    f"--cluster-id={self.cluster_id}",
                    "-c",
                    str(props),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if fmt.returncode != 0:
                output = (fmt.stdout + fmt.stderr).strip().replace("\n", " ")
                raise InfraError(f"formatting Kafka storage failed: {output[-300:]}")
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            dying_with_parent(
                [
                    java,
                    f"-Xms{self.heap}",
                    f"-Xmx{self.heap}",
                    "-XX:+UseG1GC",
                    "-XX:MaxGCPauseMillis=20",
                    "-Djava.awt.headless=true",
                    f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}",
                    "-cp",
                    classpath,
                    "kafka.Kafka",
                    str(props),
                ]
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Ctrl-C reaches the runner, which stops us in order; if the runner
            # dies, so do we.
            start_new_session=True,
        )
        log.close()

    def wait(self, timeout: float = 90.0) -> None:
        try:
            wait_for_kafka(
                self.bootstrap_servers,
                timeout,
                alive=lambda: self.proc is not None and self.proc.poll() is None,
            )
        except InfraError as exc:
            tail = self._log_tail()
            self.stop()
            raise InfraError(f"{exc}{': ' + tail if tail else ''}") from None

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = [
                ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()
            ]
            errors = [ln for ln in lines if " ERROR " in ln or "Exception" in ln]
            return (errors or lines or [""])[-1][:300]
        return ""

    def stop(self, grace: float = 20.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc, grace)

    def kill(self) -> None:
        """SIGKILL, for fault tests: the broker gets no chance to shut down cleanly."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class KafkaCluster:
    """``size`` nodes on 127.0.0.1, each broker and controller, one KRaft quorum."""

    def __init__(self, data_dir: Path, ports: list[tuple[int, int]], heap: str = "512m") -> None:
        """``ports``: (client port, controller port) for each node."""
        voters = ",".join(f"{i}@127.0.0.1:{c}" for i, (_, c) in enumerate(ports, start=1))
        cluster_id = _cluster_id()
        self.nodes = [
            KafkaBroker(
                data_dir / f"node-{i}",
                port,
                controller,
                heap=heap,
                node_id=i,
                voters=voters,
                copies=min(3, len(ports)),
                cluster_id=cluster_id,
            )
            for i, (port, controller) in enumerate(ports, start=1)
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(n.bootstrap_servers for n in self.nodes)

    def start(self, timeout: float = 120.0) -> None:
        for node in self.nodes:
            node.launch()
        try:
            for node in self.nodes:
                node.wait(timeout)
        except InfraError:
            self.stop()
            raise

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def main(argv: list[str] | None = None) -> int:
    from schemas.settings import SettingError, env_path, env_port

    try:
        data_dir = env_path("TOLLWAY_DATA_DIR", "data") / "kafka"
        port = env_port("TOLLWAY_KAFKA_PORT", 9092)
        controller_port = env_port("TOLLWAY_KAFKA_CONTROLLER_PORT", 9093)
    except SettingError as exc:
        print(f"tollway-kafka: {exc}", file=sys.stderr)
        return 1
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=data_dir)
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--controller-port", type=int, default=controller_port)
    parser.add_argument("--fetch-only", action="store_true", help="resolve the jars and exit")
    args = parser.parse_args(argv)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        if args.fetch_only:
            print(f"Kafka jars ready in {ensure_jars()}")
            return 0
        broker = KafkaBroker(args.data_dir, args.port, args.controller_port)
        broker.start()
    except InfraError as exc:
        print(f"tollway-kafka: {exc}", file=sys.stderr)
        return 1
    print(f"Kafka serving at {broker.bootstrap_servers} (Ctrl-C stops)")
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
