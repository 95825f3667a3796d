# agentbay — every command a developer or CI runs. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The suites wait on sandboxes (start-up, processes, networks) far more than they compute, so
# they run in parallel pytest workers, a test module to a worker (its module fixtures stay
# together). TEST_JOBS=1 runs them one by one.
TEST_JOBS ?= 4
PARALLEL := -n $(TEST_JOBS) --dist loadfile

.DEFAULT_GOAL := help
.PHONY: help install system-packages images generate lint types freshness test test-rootless test-repeat check demo serve bench docs soak

# Columns as wide as the longest target; a $(VAR) in a description shows its value.
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | REPEAT='$(REPEAT)' SOAK_MINUTES='$(SOAK_MINUTES)' \
		awk -F':.*## ' '{ name[NR] = $$1; text[NR] = $$2; if (length($$1) > w) w = length($$1) } \
		END { for (i = 1; i <= NR; i++) { t = text[i]; \
			while (match(t, /\$$\([A-Z_]+\)/)) { v = substr(t, RSTART + 2, RLENGTH - 3); \
				t = substr(t, 1, RSTART - 1) ENVIRON[v] substr(t, RSTART + RLENGTH) } \
			printf "  make %-" w "s  %s\n", name[i], t } }'

# The Debian packages of .ci/debian-packages.txt this machine lacks, installed where that is
# allowed (root, or `sudo -n`), else named with the command that installs them. The stamp is
# only written once nothing is missing, so until then every `make demo`/`make test` checks
# again (a fraction of a second) and says what is missing.
SYSTEM := $(VENV)/.system-packages-stamp
$(SYSTEM): .ci/debian-packages.txt .ci/system-packages
	@.ci/system-packages
	@if [ -z "$$(.ci/system-packages --missing)" ]; then mkdir -p $(VENV) && touch $@; fi

system-packages: ## install the Debian packages the project needs (.ci/debian-packages.txt)
	.ci/system-packages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(SYSTEM) $(STAMP) ## the missing system packages, then .venv with the package and its dev extras

generate: $(STAMP) ## regenerate the low-level client and the ergonomic layer
	$(BIN)/python -m generator

lint: $(STAMP) ## ruff, and the import contracts between the SDK and the runtime (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

types: $(STAMP) ## mypy (strict) on hand-written code and the rendered SDK layer
	$(BIN)/mypy

freshness: $(STAMP) ## fail if checked-in generated code differs from a fresh generation
	$(BIN)/python -m generator --check

# Where this machine cannot build images (no mmdebstrap), `images` says so and what installs it,
# and `make test` goes on: the tests that need the images skip, naming that command. `demo`
# cannot do without them: there the same lack fails (exit 2), saying the same.
images: $(STAMP) ## build the built-in images' root filesystems once per machine and user (reused after; the first build takes minutes)
	$(BIN)/agentbay local image pull --skip-unbuildable

test: $(SYSTEM) $(STAMP) images ## the whole test suite (contract, unit, end to end; TEST_JOBS workers)
	$(BIN)/python -m pytest $(PARALLEL)

test-rootless: $(STAMP) ## (as root) the sandbox and end-to-end suites again as an ordinary user
	.ci/test-rootless $(PARALLEL)

REPEAT ?= 10
test-repeat: $(SYSTEM) $(STAMP) images ## the sandbox and end-to-end suites $(REPEAT) times in a row (flakiness hunt)
	@for i in $$(seq 1 $(REPEAT)); do \
		echo "== run $$i of $(REPEAT)"; \
		$(BIN)/python -m pytest -q $(PARALLEL) tests/runtime/sandbox tests/runtime/e2e || exit 1; \
	done

check: lint types freshness test ## everything CI checks

demo: $(SYSTEM) $(STAMP) ## the quickstart on the embedded local runtime (on the built-in images: built first)
	$(BIN)/agentbay local image pull
	$(BIN)/python examples/quickstart.py

bench: $(STAMP) ## benchmarks (about 12 minutes: 5, then the first build of each built-in image); writes docs/benchmarks.md
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench

DOCS_STAMP := $(VENV)/.docs-stamp
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP) ## the documentation site from the guides and the docstrings, into site/ (warnings fail)
	$(BIN)/python docs/diagrams/architecture.py --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

SOAK_MINUTES ?= 3
soak: $(STAMP) ## 64 sessions of mixed work for $(SOAK_MINUTES) minutes: zero errors, runtime memory growth
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.soak --sessions 64 --minutes $(SOAK_MINUTES)

serve: $(STAMP) ## the local runtime in the foreground (Ctrl-C stops)
	$(BIN)/agentbay local serve
