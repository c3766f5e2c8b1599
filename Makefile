# candleflow — `make run` starts the pipeline and the chart, `make test` checks everything.
# Every target is safe to run again: installs happen only when their inputs changed.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALL_STAMP := $(VENV)/.install-stamp
NODE_STAMP := frontend/node_modules/.install-stamp
#: pytest processes (pytest-xdist, a test file stays on one): each starts its own Kafka and
#: PostgreSQL, and the tests mostly wait on workers, brokers and browsers. 1 runs them in this process.
PYTEST_WORKERS ?= 3
PYTEST_PARALLEL := $(if $(filter 1,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

.PHONY: help venv install frontend chromium lint test test-timescaledb run wheel bench stack-up stack-down stack-status clean distclean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

venv: $(BIN)/python ## Create the virtualenv (.venv)

$(INSTALL_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $@

install: $(INSTALL_STAMP) ## Install candleflow and its dev tools into .venv (again only when pyproject.toml changed)

frontend: ## Build the chart frontend (npm), when frontend/package.json exists
	@if [ -f frontend/package.json ]; then \
	  if [ ! -f $(NODE_STAMP) ] || [ frontend/package.json -nt $(NODE_STAMP) ] || \
	     { [ -f frontend/package-lock.json ] && [ frontend/package-lock.json -nt $(NODE_STAMP) ]; }; then \
	    if [ -f frontend/package-lock.json ]; then (cd frontend && npm ci); else (cd frontend && npm install); fi && \
	    touch $(NODE_STAMP); \
	  fi && (cd frontend && npm run build); \
	else echo "frontend: no frontend/package.json yet, nothing to build"; fi

chromium: ## Install Debian's chromium for the browser tests when /usr/bin/chromium is missing
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  echo "installing chromium (the browser tests drive /usr/bin/chromium)"; \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; \
	fi

lint: install ## ruff (lint + format check) and mypy; ESLint and Prettier on frontend/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy candleflow tests bench
	@if [ -f frontend/package.json ]; then \
	  [ -d frontend/node_modules ] || { echo "frontend lint needs frontend/node_modules: run make frontend"; exit 1; }; \
	  cd frontend && npm run lint && npm run format:check; fi

test: install frontend chromium lint ## Lint, then unit + integration tests (real Kafka and PostgreSQL), then frontend tests
	$(BIN)/pytest -q --durations=15 $(PYTEST_PARALLEL)
	@if [ -f frontend/package.json ]; then cd frontend && npm test; fi

test-timescaledb: install ## Only the TimescaleDB branch, on PGlite-with-TimescaleDB (npm installs tests/timescale on first use)
	$(BIN)/pytest -q tests/integration/store/test_timescaledb.py

run: install ## Check the configuration, build the chart, stack up, migrate, worker with the demo feed; chart at http://localhost:6066; Ctrl-C stops it all
	@$(BIN)/python -m candleflow.stack.run --check
	@$(MAKE) --no-print-directory frontend
	@$(BIN)/python -m candleflow.stack.run

wheel: install frontend ## Build dist/candleflow-<version>-py3-none-any.whl (migrations and chart inside)
	$(BIN)/python -m build --wheel --no-isolation --outdir dist .

bench: install ## Run the benchmarks
	$(BIN)/python -m bench.run_all

stack-up: install ## Start the local Kafka + PostgreSQL (prints export lines)
	$(BIN)/candleflow stack up

stack-down: install ## Stop the local stack
	$(BIN)/candleflow stack down

stack-status: install ## Show what the local stack runs where
	$(BIN)/candleflow stack status

clean: ## Remove caches and build output (keeps .venv and .stack)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist frontend/dist
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +

distclean: clean ## Also stop the stack and remove .stack (and a cluster it keeps elsewhere), .venv and node_modules
	-@[ -x $(BIN)/candleflow ] && $(BIN)/candleflow stack down
	@for cluster in .stack/postgres .stack/replica; do \
	  if [ -L $$cluster ]; then rm -rf "$$(dirname "$$(readlink -f $$cluster)")"; fi; done
	rm -rf .stack $(VENV) frontend/node_modules tests/timescale/node_modules
