# The two set-up commands of the README: `make run` and `make test`.
# Each creates the virtual environment on first use, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=
# Test processes (pytest-xdist): one per core by default; groups in tests/conftest.py keep what
# must not overlap apart. TEST_WORKERS=0 runs the suite in this one process.
TEST_WORKERS ?= auto

.PHONY: run test lint bench capacity clean

run: $(VENV)/.installed
	$(BIN)/wsrace run --profile quick $(ARGS)

test: $(VENV)/.installed
	.ci/install-system-deps
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup $(ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(BIN)/wsrace bench --runs 3 $(ARGS)

# e.g. make capacity ARGS="--sessions 100000" (README "Many sessions")
capacity: $(VENV)/.installed
	$(BIN)/wsrace capacity $(ARGS)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info
