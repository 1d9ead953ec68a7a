# Two commands for a newcomer: `make run` and `make test`. Both install what is missing.
# Needs only python3 (3.11+), Java 17+ and Maven on PATH; everything else lands in .venv/,
# .tools/ and infra/kafka/libs/ (all git-ignored).

SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := .tools/bin/uv
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv


.PHONY: install agents browser run test lint typecheck unit integration schemas kafka bench bench-gateway \
	bench-billing bench-metering bench-report bench-tools soak clean

install: .venv/.installed infra/kafka/libs/.complete

## The coding agents tests/agents runs (pinned by tests/agents/package-lock.json), into .tools/agents.
AGENTS := .tools/agents
agents: $(AGENTS)/.installed

$(AGENTS)/.installed: tests/agents/package.json tests/agents/package-lock.json
	@command -v npm >/dev/null || { echo "tollway: Node.js and npm are needed on PATH: make test runs Claude Code, Codex and OpenCode (tests/agents)"; exit 1; }
	@mkdir -p $(AGENTS)
	cp tests/agents/package.json tests/agents/package-lock.json $(AGENTS)/
	@# npm install, not npm ci: the lock file lists only the platform packages npm could fetch
	@# (the registry here serves some platforms only), and ci refuses a lock without the rest.
	cd $(AGENTS) && npm install --no-save --no-audit --no-fund --loglevel=error
	@touch $@

## Headless Chromium for the console's browser tests (tests/console): Debian's package.
## Playwright's own browser download does not work offline; TOLLWAY_CHROMIUM names another.
CHROMIUM ?= $(or $(TOLLWAY_CHROMIUM),/usr/bin/chromium)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser: $(CHROMIUM)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "tollway: make test drives the console in Chromium: install it, or set TOLLWAY_CHROMIUM to its path"; exit 1; }
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null

$(UV):
	@command -v python3 >/dev/null || { echo "tollway: python3 (3.11+) is needed on PATH"; exit 1; }
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

infra/kafka/libs/.complete: infra/kafka/pom.xml | .venv/.installed
	$(PY) -m infra.kafka.broker --fetch-only

## Start Kafka, the simulator and the three services; Ctrl-C stops them all.
run: install
	@$(PY) -m infra.run

## Lint, type-check, then every test (unit, integration against a real broker, the agents).
test: install agents browser lint typecheck
	$(PY) -m pytest

lint: .venv/.installed
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: .venv/.installed
	.venv/bin/mypy

unit: install
	$(PY) -m pytest tests/unit

integration: install
	$(PY) -m pytest tests/integration

## Gateway vs. the upstream called directly, three rounds a scenario; writes bench/results/gateway.json (~2 min).
bench-gateway: install bench-tools
	$(PY) -m bench.gateway

## wrk and nginx (Debian's) for the workers benchmark: a load generator and an upstream that
## cost next to nothing a request (bench/native.py).
bench-tools:
	@command -v wrk >/dev/null && { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "tollway: the workers benchmark needs wrk and nginx"; exit 1; }; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk nginx-light >/dev/null; }

## One billing consumer's events/s and request.completed -> insufficient_balance latency.
bench-billing: install
	$(PY) -m bench.billing

## Metering at 10M requests (queries), Kafka -> ClickHouse ingest and lag (~7 min).
bench-metering: install
	$(PY) -m bench.metering

## All three benchmarks, then one report: bench/results/latest.json and latest.md.
bench: bench-gateway bench-billing bench-metering
	$(PY) -m bench.report

## Five minutes of steady mixed load on the whole stack; then no lost or doubled charge,
## flat memory (RSS curve), lag back to zero. Writes bench/results/soak.json.
soak: install
	$(PY) -m bench.soak

## Rebuild the report from whichever benchmark JSON files exist.
bench-report: .venv/.installed
	$(PY) -m bench.report

## Regenerate schemas/jsonschema/ after changing an event model.
schemas: .venv/.installed
	$(PY) -m schemas.jsonschema
	$(PY) -m schemas.asyncapi

## Only the broker, for working on one service by hand.
kafka: install
	$(PY) -m infra.kafka.broker

clean:
	rm -rf .venv .tools infra/kafka/libs data
