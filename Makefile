# The commands of the README: `make demo` (the whole series, headless, on the demo dataset),
# `make test` (notebook format and template checks, lint, format check, unit tests and every notebook in
# quick mode) and `make format` (after editing a notebook: strip outputs, normalise, ruff-format its code).
# All create ./.venv and install what they need into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: test demo format lint bench clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python scripts/format_notebooks.py --check
	$(BIN)/python scripts/lint_notebooks.py
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python scripts/run_demo.py

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

format: $(STAMP)
	$(BIN)/python scripts/format_notebooks.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_extraction.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_predict.py

clean:
	rm -rf build .pytest_cache .ruff_cache
