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
	mkdir -p "$${PARLEY_INSTANCE:-instance}"
	$(BIN)/parley db upgrade
	$(BIN)/parley seed-demo
	$(BIN)/parley serve

services:
	bash .ci/services

## test: the whole suite, once on SQLite and once on PostgreSQL
test: widget-check $(STAMP) services test-sqlite test-postgresql

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

# The visitor widget. Its built files in app/static/widget are committed, so
# running Parley needs no Node; building and checking them needs Node and npm.
WIDGET_NPM := npm --prefix widget --no-audit --no-fund --loglevel=error
WIDGET_DEPS := widget/node_modules/.package-lock.json

.PHONY: widget widget-size widget-check

$(WIDGET_DEPS): widget/package.json widget/package-lock.json
	$(WIDGET_NPM) ci >/dev/null

## widget: install the widget's pinned tools and build it into app/static/widget
widget: $(WIDGET_DEPS)
	node widget/build.mjs

## widget-size: gzipped bytes of each file loaded before the widget opens; fails over 30,720
widget-size:
	node widget/size.mjs

## widget-check: rebuild into a temporary directory; fail unless identical to the committed build
widget-check: $(WIDGET_DEPS)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	node widget/build.mjs "$$tmp" >/dev/null && \
	if diff -r "$$tmp" app/static/widget >/dev/null; then \
		echo "widget-check: app/static/widget matches a fresh build of widget/"; \
	else \
		echo "widget-check: app/static/widget differs from a fresh build; run 'make widget' and commit." >&2; \
		diff -rq "$$tmp" app/static/widget >&2; exit 1; \
	fi

# The browser tests inject axe-core from widget/node_modules.
test-sqlite test-postgresql: $(WIDGET_DEPS)

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

## bench: Parley and a bare relay under the same load, on eventlet and gevent
## (about 10 minutes; BENCH_ARGS=--quick for a short run, --help for options)
bench: $(BENCH_STAMP) services
	$(BIN)/python bench/run.py $(BENCH_ARGS)
