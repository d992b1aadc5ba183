# Exponent: `make run` starts everything, `make test` runs the whole suite.
# Python 3.12 is found automatically (pyenv, then PATH); override with PYTHON=/path/to/python3.12.

SHELL := /bin/bash
PYTHON ?= $(shell for p in $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.12.*/bin/python3.12 2>/dev/null | sort -V -r) $$(command -v python3.12) $$(command -v python3); do \
	if "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then echo "$$p"; break; fi; done)
VENV := .venv
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check
export PIP_NO_WARN_SCRIPT_LOCATION := 1

.PHONY: run test lint format check venv browser-deps stop seed bench clean help

help:
	@echo "make run    - start PostgreSQL, Redis, web (ASGI), Celery worker and beat on http://127.0.0.1:$${PORT:-8000}/"
	@echo "make test   - lint, then the whole pytest suite on real PostgreSQL, Redis and Celery"
	@echo "make seed   - load demo data (demo@example.com / exponent-demo)"
	@echo "make stop   - stop the embedded PostgreSQL and Redis"
	@echo "make lint   - ruff, the formatter check and mypy; make format"

$(VENV)/.installed: pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.12 not found: install it (e.g. pyenv install 3.12) or pass PYTHON=/path/to/python3.12" >&2; exit 1; fi
	@echo "Building $(VENV) with $(PYTHON)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install $(PIP_FLAGS) --upgrade pip 2> >(grep -v "is ignored: it is neither" >&2)
	@$(PY) -m pip install $(PIP_FLAGS) -e '.[dev]' 2> >(grep -v "is ignored: it is neither" >&2)
	@touch $@

venv: $(VENV)/.installed

# The browser tests drive Debian's chromium through Playwright; never a browser download.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

run: venv
	@$(PY) -m planning.devstack run

# Branch coverage of planning/, predictions/ and audits/ (pyproject's [tool.coverage]), printed
# at the end: files not fully covered, with their missing lines. COVERAGE= turns it off.
COVERAGE ?= --cov --cov-report=term-missing:skip-covered
# Tests run in two pytest-xdist processes (each with its own test database, Redis database,
# fake Messages API and Celery workers: tests/plugin.py); XDIST= runs them in one.
XDIST ?= -n 2
test: venv browser-deps lint
	@$(PY) -m planning.devstack test -- $(XDIST) $(COVERAGE) $(PYTEST_ARGS)

# mypy (django-stubs' plugin) imports the settings, which need the two URLs: placeholders,
# nothing connects to them. Its cache lives in .mypy_cache (cold about 30 s of CPU, warm 2 s).
MYPY_ENV := DATABASE_URL=postgresql://127.0.0.1/mypy CELERY_BROKER_URL=redis://127.0.0.1/0
lint: venv
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(MYPY_ENV) $(VENV)/bin/mypy

format: venv
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

seed: venv
	@$(PY) -m planning.devstack manage migrate --noinput
	@$(PY) -m planning.devstack manage seed_demo

stop: venv
	@$(PY) -m planning.devstack stop

bench: venv
	@$(PY) -m planning.devstack exec -- bash -c 'for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done'

clean:
	rm -rf $(VENV) var/staticfiles .pytest_cache .ruff_cache .mypy_cache .coverage
