# The two commands of the README, and their helpers. Each installs what it needs itself:
# a virtual environment in .venv with the project and its test tools (pyproject.toml).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements.lock
UV_VERSION := 0.13.9
UV     ?= $(or $(shell command -v uv 2>/dev/null),$(VENV)/uv/bin/uv)
PERIOD ?= 2026Q3
DATA   ?= data/sample
MAPPING ?=
MAP    := $(if $(MAPPING),--mapping $(MAPPING))
BENCHMARKS ?=
STATE  ?=
BENCH  := $(if $(BENCHMARKS),--benchmarks $(BENCHMARKS)) $(if $(STATE),--state $(STATE))

.PHONY: report quarterly test validate lint sample docs lock clean-venv

# The environment is the lock, requirements.lock (every library pinned, with its hashes), so a
# report rendered next year runs on this quarter's versions. uv installs it in seconds: the uv on
# PATH, else uv $(UV_VERSION) put into $(VENV)/uv by pip, once. Without uv: README, "Set-up".
# Bytecode is compiled at install (as pip does; uv does not by default), the project's too:
# where PYTHONDONTWRITEBYTECODE is set, nothing would ever be cached and every command would
# compile every module it imports (about a second of each report).
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	test -x "$(UV)" || $(BIN)/python -m pip install --quiet --target $(VENV)/uv uv==$(UV_VERSION)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python --require-hashes -r $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q src
	touch $(STAMP)

## Render the quarterly report of the bundled sample: reports/$(PERIOD)/report.html (and .pdf
## when Chromium is installed). Other data: make report DATA=path/to/export PERIOD=2026Q3
## (an export in its provider system's own shape: add MAPPING=mapping.toml, docs/mapping.md;
## national lines: BENCHMARKS=benchmarks.csv STATE=NY, from outcomes national --report)
report: $(STAMP)
	$(BIN)/outcomes report --period $(PERIOD) --data $(DATA) --out reports $(MAP) $(BENCH)

## The scheduled quarterly job (also run by .github/workflows/quarterly-report.yml):
## OUTCOMES_DATA=path OUTCOMES_PERIOD=latest|previous|2026Q3 [OUTCOMES_MAPPING=file]
## [OUTCOMES_BENCHMARKS=benchmarks.csv OUTCOMES_STATE=NY] make quarterly
quarterly: $(STAMP)
	PYTHON=$(BIN)/python scripts/quarterly.sh

## Run the test suite (what CI runs).
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

## Check a dataset folder against the data contract: make validate DATA=path/to/export
## [MAPPING=mapping.toml]
validate: $(STAMP)
	$(BIN)/outcomes validate $(DATA) $(MAP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

## Regenerate the committed sample (a test checks that this reproduces it byte for byte).
sample: $(STAMP)
	$(BIN)/outcomes synth --clients 3000 --seed 20261001 --start 2024-01-01 --end 2026-09-30 --out data/sample --format csv

## Refresh the tables of docs/data-dictionary.md from src/outcomes/schema.py.
docs: $(STAMP)
	$(BIN)/python -c "from outcomes.schema import update_data_dictionary as u; u('docs/data-dictionary.md')"

## Re-resolve requirements.lock after a change to pyproject.toml's dependencies, keeping every
## pin that still fits (make lock UPGRADE=--upgrade moves every library to its newest release).
## One lock for every platform and Python 3.11+, with the same versions on each where they exist.
lock: $(STAMP)
	$(UV) pip compile pyproject.toml --extra dev --universal --fork-strategy fewest \
	  --generate-hashes --quiet $(UPGRADE) -o $(LOCK)

clean-venv:
	rm -rf $(VENV)
