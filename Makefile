# Guichet — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export REDIS_URL ?= redis://127.0.0.1:6379/0
export PORT ?= 8000
# `make test` runs the suite on pytest-xdist workers: one per CPU, at most TEST_MAX_WORKERS.
# Worker gwN flushes Redis DB GUICHET_TEST_REDIS_DB - N (tests/conftest.py): 15, 14, ...
# TEST_WORKERS=0 runs it serially in one process; PYTEST_ARGS adds pytest options.
TEST_WORKERS ?= auto
TEST_MAX_WORKERS ?= 4
PYTEST_ARGS ?=

.PHONY: help run test lint typecheck menus-lint bench bench-sms bench-deadline bench-slow-backoffice chaos lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	@touch $(STAMP)

run: $(STAMP) ## run web + worker on embedded defaults at http://127.0.0.1:$PORT
	@if scripts/ensure_redis.sh; then \
	  exec $(PY) -m gateway run --port $(PORT); \
	else \
	  exec $(PY) -m gateway run --port $(PORT) --emulate-redis; \
	fi

test: lint ## lint, type check, menus lint, then the whole suite (in parallel) on a real Redis
	@scripts/ensure_redis.sh || { echo "tests need a real Redis on $$REDIS_URL" >&2; exit 1; }
	$(PY) -m pytest -q -n $(TEST_WORKERS) --maxprocesses $(TEST_MAX_WORKERS) --dist load $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, mypy, menus lint and SMS templates check of every city pack
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m menus lint
	$(PY) -m gateway sms templates check >/dev/null

bench: $(STAMP) ## run the USSD benchmark against the peers; results in bench/README.md
	@scripts/ensure_redis.sh
	bench/run.sh

bench-sms: $(STAMP) ## SMS messages/s of one worker per worker class (Redis DB 13); see bench/README.md
	@scripts/ensure_redis.sh
	$(PY) bench/sms_throughput.py

DEADLINE_CITIZENS ?= 2000
DEADLINE_WORKERS ?= 12
bench-deadline: $(STAMP) ## deadline day: DEADLINE_CITIZENS pay a tax on the Procfile stack (private Redis + schema)
	$(PY) bench/deadline.py --citizens $(DEADLINE_CITIZENS) --workers $(DEADLINE_WORKERS)

bench-slow-backoffice: $(STAMP) ## hops against a 200 ms city portal with 5 s stalls (CIVIC_BACKEND=http)
	$(PY) bench/slow_backoffice.py

chaos: $(STAMP) ## outage drills (Redis stop/start, worker kill, Sentinel failover, Cluster); figures for the README
	@scripts/ensure_redis.sh
	$(PY) -m pytest -q -m slow tests/chaos tests/topology

lock: ## re-resolve requirements.lock from pyproject.toml (needs uv)
	uv pip compile pyproject.toml --extra dev -o requirements.lock --python-version 3.11 -q

clean: ## remove the virtualenv and local state
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
