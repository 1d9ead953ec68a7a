"""`make run`'s runner: everything up and healthy, one line per bad setting, nothing left behind."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.clickhouse import migrations
from tests.stack import SERVICES, stack_env
from tests.support import free_port, wait_until

pytestmark = pytest.mark.integration


def _run(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _children(pid: int) -> set[int]:
    """Direct children of ``pid``, from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
        return dict(json.loads(response.read()))


@pytest.fixture
def running_stack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    env = stack_env(tmp_path / "data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc, env
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stack_serves_health_then_stops_everything_on_ctrl_c(
    running_stack: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    proc, env = running_stack
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:  # the banner is printed once every service is healthy
        lines.append(line)
        if "Press Ctrl-C" in line:
            break
    assert any("Tollway is running" in ln for ln in lines), "".join(lines)

    for name in SERVICES:
        body = _get(f"http://127.0.0.1:{env[f'TOLLWAY_{name}_PORT']}/healthz")
        assert body["status"] == "ok"
    metering = _get(f"http://127.0.0.1:{env['TOLLWAY_METERING_PORT']}/healthz")
    assert metering["clickhouse"] == "chdb"
    assert metering["migrations"] == len(migrations())  # every one applied at start
    data = Path(env["TOLLWAY_DATA_DIR"])
    assert any((data / "clickhouse").iterdir()), "the chdb folder is in use"
    assert (data / "kafka" / "logs" / "meta.properties").exists(), "the broker formatted storage"

    second = _run(env | {f"TOLLWAY_{n}_PORT": str(free_port()) for n in SERVICES})
    assert second.returncode == 1
    assert "already using" in second.stderr and "Traceback" not in second.stderr

    children = _children(proc.pid)
    assert len(children) == 7  # the broker and six services
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    wait_until(
        lambda: not any(_alive(pid) for pid in children),
        timeout=10,
        what="every child process gone",
    )


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("tollway: ")
    for word in words:
        assert word in errors[0]


def test_unreachable_kafka_is_one_line(tmp_path: Path) -> None:
    dead = free_port()
    env = stack_env(
        tmp_path, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{dead}", TOLLWAY_KAFKA_WAIT_SECONDS="2"
    )
    _one_line_error(_run(env), f"127.0.0.1:{dead}", "did not answer")


def test_unwritable_data_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _one_line_error(_run(stack_env(blocker / "data")), "cannot use data folder", "TOLLWAY_DATA_DIR")


def test_port_taken_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = stack_env(tmp_path, TOLLWAY_GATEWAY_PORT=str(port))
        _one_line_error(_run(env), f"port {port}", "TOLLWAY_GATEWAY_PORT")


def test_missing_java_is_one_line(tmp_path: Path) -> None:
    env = stack_env(tmp_path, PATH=str(tmp_path / "empty-bin"))
    _one_line_error(_run(env), "Java not found")


def test_bad_port_value_is_one_line(tmp_path: Path) -> None:
    _one_line_error(
        _run(stack_env(tmp_path, TOLLWAY_BILLING_PORT="eighty")), "TOLLWAY_BILLING_PORT"
    )


def test_two_services_on_one_port_is_one_line(tmp_path: Path) -> None:
    """A tired operator copies a port: the runner names both settings instead of starting a
    stack whose health checks the first service on that port answers for both."""
    env = stack_env(tmp_path)
    env["TOLLWAY_DISPATCHER_PORT"] = env["TOLLWAY_SIMULATOR_PORT"]
    port = env["TOLLWAY_SIMULATOR_PORT"]
    _one_line_error(_run(env), "TOLLWAY_SIMULATOR_PORT", "TOLLWAY_DISPATCHER_PORT", port)
