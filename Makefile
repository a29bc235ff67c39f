# The two set-up commands of the README: `make run` and `make test`.
# Each creates the virtual environment on first use, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: run test lint bench capacity clean

run: $(VENV)/.installed
	$(BIN)/wsrace run --profile quick $(ARGS)

test: $(VENV)/.installed
	.ci/install-system-deps
	$(BIN)/ruff check .
	$(BIN)/pytest $(ARGS)

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
