"""The deployment files name only settings the code reads, run modules that exist, check
every Tollway service's health, and use the official Kafka and ClickHouse images."""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from tests.deploy_files import DEPLOY, compose, manifests

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL = {"kafka": "apache/kafka:", "clickhouse": "clickhouse/clickhouse-server:"}


def _read_by_code() -> set[str]:
    """Every environment variable name the code reads."""
    text = "\n".join(
        p.read_text() for d in ("services", "schemas", "infra") for p in (ROOT / d).rglob("*.py")
    )
    return set(re.findall(r"\b((?:TOLLWAY|KAFKA|CLICKHOUSE)_[A-Z0-9_]+)\b", text))


def test_every_setting_a_tollway_service_is_given_is_one_the_code_reads() -> None:
    services = compose()["services"]
    read = _read_by_code()
    ours = {name: s for name, s in services.items() if name not in OFFICIAL}
    assert set(ours) == {"topics", "billing", "metering", "dispatcher", "gateway", "console"}
    for name, service in ours.items():
        unknown = set(service["environment"]) - read
        assert not unknown, (name, sorted(unknown))


def test_each_command_runs_a_module_that_exists_and_each_server_has_a_health_check() -> None:
    for name, service in compose()["services"].items():
        if name in OFFICIAL:
            assert service["image"].startswith(OFFICIAL[name]) and "healthcheck" in service
            continue
        program, flag, module = service["command"]
        assert (program, flag) == ("python", "-m")
        assert (ROOT / module.replace(".", "/")).with_suffix(".py").exists() or (
            ROOT / module.replace(".", "/") / "__main__.py"
        ).exists(), module
        if name != "topics":  # a one-shot job
            test = " ".join(service["healthcheck"]["test"])
            assert "/healthz" in test or "/readyz" in test, name


def _secrets() -> set[str]:
    """The secrets an operator puts in ``tollway.env`` (the Kubernetes secret's keys)."""
    text = (DEPLOY / "tollway.env.example").read_text()
    return set(re.findall(r"^([A-Z0-9_]+)=", text, re.M))


def _source(name: str) -> Path | None:
    """The file of module ``name`` in this repository (None for a library's)."""
    base = ROOT / name.replace(".", "/")
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.exists()), None)


def _secrets_read_by(module: str) -> set[str]:
    """The secrets named in the code ``python -m module`` can import: its package, and what
    that imports from this repository, followed to the end."""
    package = ROOT / module.replace(".", "/")
    todo = sorted(package.rglob("*.py")) if package.is_dir() else [package.with_suffix(".py")]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        here = path.relative_to(ROOT).parent.parts
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                # ``from ..x import y`` in a/b/c.py is a.x (and a.x.y, if a module)
                parent = here[: len(here) - node.level + 1] if node.level else ()
                base = ".".join([*parent, *([node.module] if node.module else [])])
                names = [base, *(f"{base}.{a.name}" for a in node.names)]
            todo.extend(p for n in names if (p := _source(n)) and p not in seen)
    text = "\n".join(p.read_text() for p in seen)
    return {s for s in _secrets() if re.search(rf"\b{s}\b", text)}


#: What each deployed program is given of tollway.env. The gateway and the console face
#: clients: each holds a token of its own with the support scope, never the admin token
#: (it moves money); the ClickHouse password and the webhook key stay where they are used.
GIVEN = {
    "services.billing": {"TOLLWAY_ADMIN_TOKEN", "TOLLWAY_WEBHOOK_KEY"},
    "services.metering": {"TOLLWAY_ADMIN_TOKEN", "CLICKHOUSE_PASSWORD"},
    "services.dispatcher": {"TOLLWAY_ADMIN_TOKEN", "TOLLWAY_WEBHOOK_KEY"},
    "services.gateway": {"TOLLWAY_GATEWAY_TOKEN"},
    "services.console": {"TOLLWAY_CONSOLE_TOKEN", "TOLLWAY_CONSOLE_SECRET"},
    "infra.kafka.topics": set(),
}


def test_no_secret_is_written_into_the_files() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    assert _secrets() == set().union(*GIVEN.values())
    for secret in _secrets():
        for value in re.findall(rf"{secret}: (.+)", text):
            assert value.startswith("${"), (secret, value)  # from tollway.env, not the file


def _k8s_programs() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Each of our containers in the manifests: its module, its pod spec, the container."""
    for doc in manifests():
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            pod = doc["spec"]["template"]["spec"]
            for container in pod["containers"]:
                if container["image"] == "tollway:latest":
                    yield container["command"][2], pod, container


def test_each_service_is_given_the_secrets_it_reads_and_no_other() -> None:
    for name, service in compose()["services"].items():
        if name not in OFFICIAL:
            module = service["command"][2]
            given = set(service["environment"]) & _secrets()
            assert given == GIVEN[module], name
            assert given <= _secrets_read_by(module), (name, given - _secrets_read_by(module))
    seen = set()
    for module, _, container in _k8s_programs():
        assert all("secretRef" not in source for source in container.get("envFrom", []))
        from_secret = {
            e["valueFrom"]["secretKeyRef"]["key"]: e["name"]
            for e in container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert all(key == name for key, name in from_secret.items()), from_secret
        assert set(from_secret) == GIVEN[module], (module, from_secret)
        seen.add(module)
    assert seen == set(GIVEN)


def test_the_servers_with_an_admin_api_read_the_named_tokens_from_a_mounted_folder() -> None:
    """The gateway's and the console's tokens are named tokens: the services they call must
    read the tokens file, from a folder (a mounted file would keep the replaced one)."""
    for name, service in compose()["services"].items():
        if name in OFFICIAL or "TOLLWAY_ADMIN_TOKEN" not in service["environment"]:
            continue
        path = Path(service["environment"]["TOLLWAY_ADMIN_TOKENS_FILE"])
        (mount,) = [v for v in service["volumes"] if isinstance(v, dict)]
        assert mount["type"] == "bind" and mount["target"] == str(path.parent), name
        assert mount["read_only"] and not mount["bind"]["create_host_path"], name
        assert (DEPLOY / mount["source"]).resolve() == (DEPLOY / "tokens").resolve()
    for module, pod, container in _k8s_programs():
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        if "TOLLWAY_ADMIN_TOKEN" not in env:
            continue
        path = Path(env["TOLLWAY_ADMIN_TOKENS_FILE"])
        (mount,) = container["volumeMounts"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert mount["mountPath"] == str(path.parent) and mount["readOnly"], module
        assert volume["secret"]["secretName"] == "tollway-tokens", module
    example = (DEPLOY / "tollway.env.example").read_text()
    assert "TOLLWAY_ADMIN_TOKENS_FILE=infra/deploy/tokens/admin-tokens.json" in example
    private = ["infra/deploy/tokens/admin-tokens.json", "infra/deploy/tollway.env"]
    ignored = subprocess.run(
        ["git", "check-ignore", *private], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert ignored.stdout.split() == private  # a deployment's secrets are never committed


def test_the_kubernetes_manifests_give_known_settings_and_probe_every_server() -> None:
    read = _read_by_code()
    docs = manifests()
    (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert set(config["data"]) <= read, sorted(set(config["data"]) - read)
    servers = {}
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            if container["image"] != "tollway:latest":
                official = OFFICIAL[container["name"]]
                assert container["image"].startswith(official)
                continue
            names = {e["name"] for e in container.get("env", [])}
            assert names <= read, (doc["metadata"]["name"], sorted(names - read))
            module = container["command"][2]
            assert (ROOT / module.replace(".", "/")).exists() or (
                ROOT / module.replace(".", "/")
            ).with_suffix(".py").exists(), module
            if doc["kind"] != "Job":
                servers[doc["metadata"]["name"]] = container
    assert set(servers) == {"billing", "metering", "dispatcher", "gateway", "console"}
    for name, container in servers.items():
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["resources"]["requests"], name


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule for our patterns: the last one that matches the path or a folder above
    it decides; ``!`` lets in."""
    ignored = False
    for pattern in patterns:
        allow = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        parts = path.split("/")
        above = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch(p, pattern) or fnmatch(p, f"*/{pattern.removeprefix('**/')}") for p in above
        ):
            ignored = not allow
    return ignored


def test_the_image_gets_what_its_dockerfile_copies_and_nothing_installed_here() -> None:
    text = (DEPLOY / "Dockerfile.dockerignore").read_text()
    patterns = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    copied = [
        source
        for line in dockerfile.splitlines()
        if line.startswith("COPY ")
        for source in line.split()[1:-1]
    ]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not _ignored(source, patterns), source
    for module in ("services/gateway/__main__.py", "infra/catalog.toml", "schemas/topics.py"):
        assert not _ignored(module, patterns), module
    for local in (".venv/bin/python", ".tools/bin/uv", "infra/kafka/libs/x.jar", ".git/HEAD"):
        assert _ignored(local, patterns), local
    assert _ignored("services/gateway/__pycache__/app.pyc", patterns)
    # The image installs with the uv the Makefile pins, so uv.lock reads the same.
    pinned = re.search(r"^UV_VERSION := (\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert pinned and f"uv=={pinned[1]}" in dockerfile


def test_a_gateway_on_auto_workers_has_a_cpu_limit_to_count() -> None:
    """auto runs one worker per core of the CPU limit; with none it counts the node's cores,
    and a 64-core node's worth of workers does not fit the memory limit."""
    service = compose()["services"]["gateway"]
    assert service["environment"]["TOLLWAY_GATEWAY_WORKERS"] == "auto"
    assert service["deploy"]["resources"]["limits"]["cpus"]
    (gateway,) = [
        d
        for d in manifests()
        if d["metadata"]["name"] == "gateway" and "spec" in d and "template" in d["spec"]
    ]
    (container,) = gateway["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TOLLWAY_GATEWAY_WORKERS"] == "auto"
    assert container["resources"]["limits"]["cpu"]
