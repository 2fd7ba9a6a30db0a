# Quick start: `make run` evaluates the sample learners; `make test` runs the whole suite.
# Each target builds a local virtual environment in .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := $(shell find src grammar -type f \( -name '*.py' -o -name '*.lark' -o -name '*.json' \)) pyproject.toml

.PHONY: run serve test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A regular (non-editable) install: the tests run against the package as a user gets it,
# grammar file included.
$(STAMP): $(BIN)/python $(SOURCES)
	$(BIN)/python -m pip install --quiet ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/stackrules check rules/
	$(BIN)/stackrules evaluate --rules rules/ examples/learners.json --as-of 2026-11-22 --exceptions examples/exceptions.csv --format text

serve: $(STAMP)
	$(BIN)/stackrules serve --rules rules/

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_parse.py --runs 3
	$(BIN)/python benchmarks/bench_eval.py --budget 30 --runs 3

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
