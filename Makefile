# Two commands set up everything on a fresh machine (Python 3.10+):
#   make demo   trains a garden LSTM on a real corpus and prints its loss falling
#   make test   lint and the whole test suite
# Both create .venv and install the project into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint benchmark clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m recipes.demo

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Two pytest workers: most tests wait on one core (tracing, subprocesses).
test: lint
	$(BIN)/python -m pytest -n 2

benchmark: $(VENV)/.installed
	$(BIN)/python benchmarks/rnn_speed.py
	$(BIN)/python benchmarks/data_pipeline.py
	$(BIN)/python benchmarks/precision_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
