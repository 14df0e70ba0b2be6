# The two commands: `make demo` and `make test`. Each creates (or reuses) .venv/ and installs
# what it needs; nothing else has to be installed by hand (PostgreSQL comes as a wheel).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint unit integration e2e clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.runtime
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.runtime
	$(BIN)/scalper demo

test: $(VENV)/.dev
	$(BIN)/pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests
	$(BIN)/mypy

unit: $(VENV)/.dev
	$(BIN)/pytest -q tests/unit

integration: $(VENV)/.dev
	$(BIN)/pytest -q tests/integration

e2e: $(VENV)/.dev
	$(BIN)/pytest -q tests/e2e

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
