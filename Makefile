# The commands of the README: `make demo` (the whole series, headless, on the demo dataset),
# `make test` (notebook format and template checks, lint, format check, unit tests and every notebook in
# quick mode), `make format` (after editing a notebook: strip outputs, normalise, ruff-format its code),
# `make rehearse DATA=FOLDER` (every notebook in full mode on real clips) and `make student` (the notebooks without
# the exercises' solutions, for a class).
# All create ./.venv and install what they need into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

DATA ?= ../shared/ucf101_sample
# Pretrained weights for a machine that reaches no download (har/weights.py): the shared folder when it is there.
# Without it, tests that need real weights skip and the notebooks show the pretrained model as not run, and why.
ifneq ($(wildcard ../shared/weights/.),)
export HAR_WEIGHTS ?= $(abspath ../shared/weights)
endif

.PHONY: test demo rehearse student format lint bench clean

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

# Every notebook in full mode on a real folder laid out like UCF50 (what it overrides: scripts/rehearse.py).
rehearse: $(STAMP)
	$(BIN)/python scripts/rehearse.py $(DATA)

# The notebooks for a class: each exercise's solution replaced by an empty answer cell -> build/student/.
student: $(STAMP)
	$(BIN)/python scripts/student.py

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

format: $(STAMP)
	$(BIN)/python scripts/format_notebooks.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_extraction.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_predict.py
	$(BIN)/python benchmarks/bench_pretrained.py

clean:
	rm -rf build .pytest_cache .ruff_cache
