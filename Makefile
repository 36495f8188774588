# Atrium developer commands. Needs only Python 3.11+ (`python3`); everything else, including
# PostgreSQL and Redis, comes from the lock file into .venv (see ARCHITECTURE.md, "Running it").
#
#   make demo    set up, migrate, seed the demo mall and serve it on http://localhost:8000/
#   make test    set up, lint, type-check and run the whole suite (what CI runs)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
# Source folders: `platform` holds the `atrium` and `provider` packages (it is no package itself).
# Folders with no Python file yet are left out (mypy refuses an empty folder).
SOURCES := $(foreach dir,platform tenants apps billing integrations,\
	$(if $(shell find $(dir) -name '*.py' -print -quit 2>/dev/null),$(dir)))

.PHONY: help setup demo dev test test-fast lint fmt typecheck migrations-check ci stop browser \
	bench-onboarding bench-sales bench-settlement

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

setup: $(STAMP) ## create .venv and install the locked dependencies (a no-op when up to date)

# The stamp is newer than both inputs once an install has finished; a failed install leaves it
# old, so the next `make setup` tries again.
$(STAMP): requirements.lock pyproject.toml $(wildcard locale/*/LC_MESSAGES/*.po)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "error: $(VENV) has Python < 3.11; remove it and run with PYTHON=python3.11" >&2; exit 1; }
	@$(UV) --version 2>/dev/null | grep -qx 'uv $(UV_VERSION)' \
		|| $(PY) -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'
	$(UV) pip install --python $(PY) -r requirements.lock
	$(UV) pip install --python $(PY) --no-deps -e .
	@# Compile the .po catalogues with polib (no GNU gettext needed); the dummy URLs keep the
	@# settings from starting the embedded servers: the command never connects.
	DJANGO_SETTINGS_MODULE=atrium.settings.dev \
		DATABASE_URL=$${DATABASE_URL:-postgresql://build@127.0.0.1:1/build} \
		REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:1/0} $(PY) manage.py compile_translations
	@touch $(STAMP)

demo: setup ## run the demo: embedded PostgreSQL/Redis, migrations, demo data, web + workers
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-atrium.settings.dev} $(PY) infra/dev.py

dev: demo ## same as `make demo`

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used), with
# CJK fonts so that Chinese screenshots render, and poppler's pdftoppm to look at exported PDFs.
BROWSER_PACKAGES := chromium fonts-noto-cjk poppler-utils
browser:
	@missing=""; for pkg in $(BROWSER_PACKAGES); do \
		dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing$$missing for the browser tests..."; \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq \
			&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } \
			|| echo "warning: could not install$$missing; browser tests will fail" >&2; \
	elif [ -n "$$missing" ]; then \
		echo "warning: missing$$missing (apt-get install$$missing); browser tests will fail" >&2; \
	fi

test: setup browser lint typecheck migrations-check ## lint, type-check, then the whole test suite
	@# pytest exits 5 when it collects no test: say so loudly, but do not fail the run for it.
	@rc=0; $(PY) -m pytest -q || rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "warning: pytest collected no tests" >&2; rc=0; fi; \
		exit $$rc

test-fast: setup ## the suite without browser tests, stopping at the first failure
	@rc=0; $(PY) -m pytest -q -x -m "not e2e" || rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "warning: pytest collected no tests" >&2; rc=0; fi; \
		exit $$rc

lint: setup ## ruff (lint + format check) and import-linter contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

fmt: setup ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: setup ## mypy (strict, with the Django plugin)
	$(VENV)/bin/mypy $(SOURCES)

migrations-check: setup ## fail when a model change has no migration
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-atrium.settings.dev} \
		$(PY) manage.py makemigrations --check --dry-run

bench-onboarding: setup ## onboarding + migrate_schemas timings beside plain create-and-migrate
	$(PY) bench/onboarding.py

bench-sales: setup ## POS sales per second and latency beside pgbench's TPS on the same server
	$(PY) bench/sales.py

bench-settlement: setup ## close a month for 500 merchants / 1M sales beside PostgreSQL's aggregate
	$(PY) bench/settlement.py

ci: ## what CI runs
	bash .ci/run

stop: ## stop the embedded PostgreSQL and Redis (data stays in .devdata/)
	@if [ -x $(PY) ]; then $(PY) -W ignore -c "from atrium import embedded; embedded.stop_all()"; fi
