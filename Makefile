# Trading Research Workbench. Needs only python3 (>= 3.11), make and git.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
UV_VERSION := 0.13.8
HOST ?= 127.0.0.1
PORT ?= 8501
API_PORT ?= 8000
# Streamlit's upload cap (MB) from the workbench settings (WORKBENCH_UPLOAD_MAX_MB).
UPLOAD_MB = $(BIN)/python -c "from core.config import get_settings; print(get_settings().upload_max_server_mb)"

.PHONY: install setup run api test browser lint contracts typecheck format bench data clean mutation

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Verify embedded data, migrate the database, warm numba's cache and compile the project's
## bytecode (idempotent; the environment may set PYTHONDONTWRITEBYTECODE, so nothing else writes it).
setup: install
	$(BIN)/workbench setup
	$(BIN)/python -m compileall -q core app pages

run: setup
	$(BIN)/streamlit run app/main.py --server.headless true \
		--server.address $(HOST) --server.port $(PORT) \
		--server.maxUploadSize $$($(UPLOAD_MB))

## The REST API (OpenAPI at /openapi.json, docs at /docs); tokens: workbench tokens create.
api: setup
	$(BIN)/workbench api --host $(HOST) --port $(API_PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	cd clients/python && ../../$(BIN)/mypy --strict workbench_client

## Layer contracts ([tool.importlinter] in pyproject.toml; function-level imports count).
contracts: install
	$(BIN)/lint-imports

## mypy ([tool.mypy] in pyproject.toml): strict on core/, the default checks on app/ and pages/.
typecheck: install
	$(BIN)/mypy

## The suite on every core (pytest-xdist; each test has its own folder and database), then
## the real-browser suite on its own, so its servers and browsers do not compete with the
## heaviest engine tests for the cores; both always run, and either failing fails the target.
## The browser suite is distributed by file (each module's server and fixtures start once);
## pytest-xdist's loadgroup does not group under pytest 9, which ignores the node ids it edits.
test: setup lint
	status=0; \
	$(BIN)/pytest -n auto --dist loadgroup --durations=25 --ignore=tests/browser || status=$$?; \
	$(BIN)/pytest -n auto --dist loadfile --durations=10 tests/browser || status=$$?; \
	exit $$status

## Only the real-browser suite (Debian's chromium; apt-get install chromium when missing).
browser: setup
	$(BIN)/pytest -n auto --dist loadfile tests/browser

bench: setup
	$(BIN)/workbench bench --json

## Mutation testing (slow; not part of `make test`): mutate the modules in [tool.mutmut]
## (pyproject.toml), run their focused tests niced on one worker, print the score per module.
mutation: install
	rm -rf mutants
	nice -n 19 $(BIN)/mutmut run --max-children 1
	$(BIN)/python scripts/mutation_score.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Maintainers only: re-extract data/ from the source packages' wheels (needs network).
data: install
	rm -rf build/wheels && $(BIN)/python -m pip download --no-deps --quiet \
		bokeh-sampledata==2026.1 arch==8.0.0 skfolio==1.12.2 -d build/wheels
	$(BIN)/python scripts/extract_data.py build/wheels

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache build
