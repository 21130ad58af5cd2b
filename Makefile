# surveykb: `make run` serves the knowledge base, `make test` runs the whole suite.
# Both build .venv from scratch on a fresh clone; only Python 3.11+ is needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install install-dev lint format bench clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/surveykb db upgrade
	$(BIN)/surveykb load-survey
	$(BIN)/surveykb bootstrap --host $(HOST) --port $(PORT)
	$(BIN)/surveykb serve --host $(HOST) --port $(PORT)

# The suite runs on SQLite; then, when a PostgreSQL server answers on 127.0.0.1:5432 (user
# postgres, trust), once more against a throwaway database there (tests/pgtest.py).
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

test: install-dev
	$(BIN)/ruff check .
	@test -x $(CHROMIUM) || echo "== NOTE: no Chromium at $(CHROMIUM): the browser end-to-end tests (tests/e2e) will be SKIPPED (install it: apt-get install -y chromium)"
	SURVEYKB_TEST_DATABASE_URL= $(BIN)/python -m pytest $(PYTEST_ARGS)
	@if $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2).close()" 2>/dev/null; then \
		echo "== PostgreSQL answers on 127.0.0.1:5432: running the suite again against it"; \
		SURVEYKB_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest $(PYTEST_ARGS); \
	else \
		echo "== No PostgreSQL server on 127.0.0.1:5432: skipped the PostgreSQL run"; \
	fi

# Full-page PNGs of the main pages (desktop, dark, 390 px) into docs/screenshots/: they are
# taken by the browser tests, so this runs tests/e2e (about a minute). Needs Debian's Chromium
# (never downloads a browser).
CHROMIUM ?= /usr/bin/chromium
screenshots: install-dev
	@test -x $(CHROMIUM) || { echo "make screenshots needs Chromium at $(CHROMIUM): apt-get install -y chromium"; exit 1; }
	SURVEYKB_SCREENSHOT_DIR=$(CURDIR)/docs/screenshots SURVEYKB_E2E_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest tests/e2e -q -p no:cacheprovider
	@ls docs/screenshots/*.png

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	@for b in bench/*_bench.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
