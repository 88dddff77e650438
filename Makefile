# The two commands a newcomer needs: `make run` and `make test`. Everything else is set up here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DATABASE_URL ?= sqlite:///./data/iki.db

.PHONY: run test lint format pytest bench migrate seed clean help

help:
	@echo "make run    install, migrate, seed and serve the API on http://127.0.0.1:8000"
	@echo "make test   install the dev tools, lint and run the whole test suite"
	@echo "            (TEST_DATABASE_URL=postgresql+psycopg://... to run it on PostgreSQL)"
	@echo "make bench  run the benchmarks in bench/"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed-run

migrate: $(VENV)/.installed-run
	$(BIN)/iki migrate

seed: migrate
	$(BIN)/iki seed

run: seed
	$(BIN)/iki serve

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check app tests migrations bench
	$(BIN)/ruff format --check app tests migrations bench
	$(BIN)/mypy app

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix app tests migrations bench
	$(BIN)/ruff format app tests migrations bench

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -q

test: lint pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/formula_bench.py

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm .pytest_cache .mypy_cache .ruff_cache
