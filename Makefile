# The two commands a newcomer needs: `make run` and `make test`. Everything else is set up here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DATABASE_URL ?= sqlite:///./data/iki.db

.PHONY: run test lint format pytest bench migrate seed clean help system-deps test-system-deps

# WeasyPrint (PDF documents) needs pango and fonts; the document test renders the SK in
# Chromium, and the browser tests (tests/browser) drive it with Playwright. Installed with
# apt-get only when missing (the HTML documents work without them).
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
APT_GET := $(shell [ "$$(id -u)" = 0 ] || echo sudo) apt-get

help:
	@echo "make run    install, migrate, seed and serve the API on http://127.0.0.1:8000 (and deliver webhooks)"
	@echo "make test   install the dev tools, lint and run the whole test suite"
	@echo "            (TEST_DATABASE_URL=postgresql+psycopg://... to run it on PostgreSQL;"
	@echo "            PYTEST_WORKERS=0 to run the tests in one process, default: one per core)"
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

system-deps:
	@missing=$$(for p in $(PDF_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null; then \
			echo "installing for PDF: $$missing"; \
			$(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq $$missing \
				|| echo "could not install $$missing: PDF documents answer 503"; \
		else echo "no apt-get: install $$missing for PDF documents"; fi; \
	fi

test-system-deps: system-deps
	@[ -x /usr/bin/chromium ] || { command -v apt-get >/dev/null && $(APT_GET) update -qq && \
		DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq chromium; } \
		|| echo "could not install chromium: the browser tests and the document test are skipped"

migrate: $(VENV)/.installed-run system-deps
	$(BIN)/iki migrate

seed: migrate
	$(BIN)/iki seed

run: seed
	$(BIN)/iki serve --with-worker

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check app tests migrations bench
	$(BIN)/ruff format --check app tests migrations bench
	$(BIN)/mypy app
	$(BIN)/mypy --explicit-package-bases bench

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix app tests migrations bench
	$(BIN)/ruff format app tests migrations bench

# The suite in parallel (pytest-xdist), one worker per core, each with its own migrated and
# seeded database; a worker that runs out of tests takes some of the other's (worksteal), as
# a few tests (the long import, the PDFs) take seconds where most take milliseconds.
PYTEST_WORKERS ?= auto

pytest: $(VENV)/.installed-dev test-system-deps
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal

test: lint pytest

# Every bench runs to the end and prints its lines, each goal `met` or `MISSED`; the target
# fails at the end if any bench missed a goal (not at the first miss).
BENCHES := bench/formula_bench.py bench/seed_bench.py bench/city_bench.py bench/pages_bench.py \
	bench/webhooks_bench.py bench/load.py

bench: $(VENV)/.installed-dev
	@missed=""; for b in $(BENCHES); do \
		echo "=== $$b ==="; $(BIN)/python $$b || missed="$$missed $$b"; \
	done; \
	if [ -n "$$missed" ]; then echo "MISSED a goal in:$$missed"; exit 1; fi; \
	echo "every bench met its goals"

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm .pytest_cache .mypy_cache .ruff_cache
