# Two commands for a newcomer: `make run` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# What WeasyPrint needs from the system to lay out the PDF letters: Pango, HarfBuzz's subsetter (which,
# unlike fontTools' fallback, writes no timestamp into the fonts, so a letter renders to the same bytes
# every time) and the fonts the letters name.
# The tests also start a real PostgreSQL server (the shared sent-ledger, tests/postgres_server.py).
DEBIAN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core postgresql

.PHONY: install system-packages run demo worker test lint typecheck pytest bench bench-cost clean

system-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
		else echo "missing Debian packages: $$missing (install them as root)"; exit 1; fi; \
		echo "installing $$missing"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: system-packages $(STAMP)

## The whole service on this machine: Temporal dev server + web UI, worker, ingress API.
run: install
	$(PY) -m deploy.local

## `make run`, then a sample book with a case at every stage, on its own database (var/demo/).
demo: install
	$(PY) -m deploy.demo

worker: install
	$(PY) worker.py

## Everything CI checks: lint, types, the full test suite.
test: lint typecheck pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy .

pytest: install
	$(VENV)/bin/pytest -q

## Throughput against the raw Temporal ceiling on an embedded dev server; writes BENCHMARKS.md and
## BENCHMARKS.json after each phase. A quick check: make bench ARGS="--cases 500 --entries 2000".
bench: install
	$(PY) -m bench $(ARGS)

## What a case costs on Temporal Cloud (history events, billable Actions, history size), in seconds on
## the time-skipping test server; writes its section of BENCHMARKS.md and BENCHMARKS-cost.json.
bench-cost: install
	$(PY) -m bench.cost $(ARGS)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
