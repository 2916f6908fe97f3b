# Two commands for a newcomer: `make run` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run worker test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## The whole service on this machine: Temporal dev server + web UI, worker, ingress API.
run: install
	$(PY) -m deploy.local

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

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
