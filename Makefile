# Parley: `make run` starts a demo on a fresh machine, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgresql services lint format bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Parley needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: install, migrate the embedded SQLite database, seed the demo once, serve on :5000
run: $(STAMP)
	mkdir -p instance
	$(BIN)/parley db upgrade
	$(BIN)/parley seed-demo
	$(BIN)/parley serve

services:
	bash .ci/services

## test: the whole suite, once on SQLite and once on PostgreSQL
test: $(STAMP) services test-sqlite test-postgresql

test-sqlite: $(STAMP)
	PARLEY_TEST_DATABASE=sqlite $(BIN)/pytest -p no:cacheprovider -q $(PYTEST_ARGS)

test-postgresql: $(STAMP)
	PARLEY_TEST_DATABASE=postgresql $(BIN)/pytest -p no:cacheprovider -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check app config tests
	$(BIN)/ruff format --check app config tests

format: $(STAMP)
	$(BIN)/ruff format app config tests
	$(BIN)/ruff check --fix app config tests

clean:
	rm -rf $(VENV) build *.egg-info
