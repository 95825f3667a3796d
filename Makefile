# agentbay — every command a developer or CI runs. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install generate lint types freshness test test-repeat check demo serve bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the package with its dev extras

generate: $(STAMP) ## regenerate the low-level client and the ergonomic layer
	$(BIN)/python -m generator

lint: $(STAMP) ## ruff on hand-written code and the rendered SDK layer
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP) ## mypy (strict) on hand-written code and the rendered SDK layer
	$(BIN)/mypy

freshness: $(STAMP) ## fail if checked-in generated code differs from a fresh generation
	$(BIN)/python -m generator --check

test: $(STAMP) ## the whole test suite (contract, unit, end to end)
	$(BIN)/python -m pytest

REPEAT ?= 10
test-repeat: $(STAMP) ## the sandbox and end-to-end suites $(REPEAT) times in a row (flakiness hunt)
	@for i in $$(seq 1 $(REPEAT)); do \
		echo "== run $$i of $(REPEAT)"; \
		$(BIN)/python -m pytest -q tests/sandbox tests/e2e || exit 1; \
	done

check: lint types freshness test ## everything CI checks

demo: $(STAMP) ## the quickstart on the embedded local runtime
	$(BIN)/python examples/quickstart.py

bench: $(STAMP) ## benchmarks (about 5 minutes); writes docs/benchmarks.md
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench

serve: $(STAMP) ## the local runtime in the foreground (Ctrl-C stops)
	$(BIN)/agentbay local serve
