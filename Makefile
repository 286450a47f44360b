# Two commands set up everything on a fresh machine (Python 3.10+):
#   make demo   trains a garden LSTM on a real corpus and prints its loss falling
#   make test   lint and the whole test suite
# Both create .venv and install the project into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-jax test-torch lint benchmark clean

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

# Two pytest workers: most tests wait on one core (tracing, subprocesses);
# an idle worker takes queued tests from the busy one (worksteal), so one
# long test at the end does not keep the other worker waiting.
# The keras.ops code runs again on JAX and on PyTorch, each in its own
# process (the backend is chosen when Keras is imported): on JAX the essential
# checks only, as each eager JAX call compiles and the whole set takes 10
# minutes there.
LAYER_TESTS := tests/layers/test_simple_rnn.py tests/layers/test_gru.py \
	tests/layers/test_lstm.py tests/layers/test_attention.py tests/layers/test_tree.py \
	tests/layers/test_text_cnn.py tests/layers/test_recurrent.py tests/decoding
JAX_SELECT := not (recurrent.py and not (bidirectional or padded)) \
	and not (gradients and not (tanh or TreeLSTM)) and not mixed_precision \
	and not (python_reference and not 3-0) and not exhaustive and not gru_states

test: lint
	$(BIN)/python -m pytest -n 2 --dist worksteal

# Not part of `make test`: with it, CI on a 2-core machine took 15 min 2 s,
# past its 15-minute budget.
test-jax: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[jax]"
	KERAS_BACKEND=jax $(BIN)/python -m pytest -n 2 -m "not tensorflow_only" \
		-k "$(JAX_SELECT)" $(LAYER_TESTS)

# The whole layer and decoding set on PyTorch's CPU build (28 s on 2 cores).
test-torch: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet \
		--extra-index-url https://download.pytorch.org/whl/cpu -e ".[torch]"
	KERAS_BACKEND=torch $(BIN)/python -m pytest -n 2 -m "not tensorflow_only" \
		$(LAYER_TESTS)

benchmark: $(VENV)/.installed
	$(BIN)/python benchmarks/rnn_speed.py
	$(BIN)/python benchmarks/data_pipeline.py
	$(BIN)/python benchmarks/precision_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
