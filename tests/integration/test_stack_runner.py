"""`make run`'s runner: everything up and healthy, one line per bad setting, nothing left behind."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.admin_access import local_token_file
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


def _get(url: str, token: str = "") -> dict[str, object]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return dict(json.loads(response.read()))


def _status(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def _environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def _check_facing_services_hold_their_own_support_tokens(
    data: Path, env: dict[str, str], children: set[int]
) -> None:
    """The gateway and the console face clients: each holds a token of its own with the
    support scope, never the operator's token (which can move money)."""
    billing = f"http://127.0.0.1:{env['TOLLWAY_BILLING_PORT']}"
    gateway = f"http://127.0.0.1:{env['TOLLWAY_GATEWAY_PORT']}"
    operator = local_token_file(data).read_text().strip()
    tokens = {}
    for name, variable in (
        ("gateway", "TOLLWAY_GATEWAY_TOKEN"),
        ("console", "TOLLWAY_CONSOLE_TOKEN"),
    ):
        tokens[name] = token = (data / f"{name}-token").read_text().strip()
        assert _get(f"{billing}/v1/whoami", token) == {"name": name, "scopes": ["support"]}
        (pid,) = [p for p in children if f"services.{name}" in _cmdline(p)]
        held = _environment(pid)
        assert held[variable] == token and "TOLLWAY_ADMIN_TOKEN" not in held, name
    gateway_token = tokens["gateway"]
    assert _status(f"{gateway}/metrics", operator) == 401  # it does not know the operator's
    for name in SERVICES:  # one token for a scraper of every service
        if name not in ("SIMULATOR", "CONSOLE"):  # the console keeps no metrics
            port = env[f"TOLLWAY_{name}_PORT"]
            assert _status(f"http://127.0.0.1:{port}/metrics", gateway_token) == 200, name


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


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
    _check_facing_services_hold_their_own_support_tokens(data, env, children)
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


def test_a_tokens_file_that_does_not_parse_is_one_line(tmp_path: Path) -> None:
    """It would otherwise refuse every named token, the gateway's and the console's too."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "admin-tokens.json").write_text('{"tokens": [{"name": "ops",}]}')  # by hand
    _one_line_error(_run(stack_env(data)), "admin-tokens.json", "fix or remove it")
