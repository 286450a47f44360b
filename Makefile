# Two commands set up everything on a fresh machine (Python 3.10+):
#   make demo   trains a garden LSTM on a real corpus and prints its loss falling
#   make test   lint and the whole test suite
# Both create .venv and install the project into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-jax test-torch lint benchmark clean

# uv installs the same packages from the same index as pip, in about half the
# time (33 s against 54 s on 2 cores, JAX's CPU wheel included, for the layer
# tests `make test` runs on JAX too); pip takes over if uv cannot. Unlike
# pip, uv leaves the bytecode to the first import unless told: where
# PYTHONDONTWRITEBYTECODE is set, every one of the suite's thirty-odd Python
# processes then compiled TensorFlow again (`import tensorflow, keras`:
# 16 s of CPU, against 6 s with the bytecode compiled at install).
$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python \
		-e ".[test,jax]" \
		|| $(BIN)/python -m pip install --quiet -e ".[test,jax]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m recipes.demo

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Three pytest workers on two cores: most tests leave a core idle part of
# the time (tracing, subprocesses, files), and the third uses those cycles
# (the whole suite: 195% CPU against 173% with two workers). Tests are handed
# out one or two at a time, in the order tests/conftest.py gives; a group
# (`xdist_group`: tests sharing a costly fixture, a recipe's flag runs) goes
# whole to one worker, which makes what they share once.
# Beside them, the keras.ops code runs again on JAX, in its own process (the
# backend is chosen when Keras is imported) at a low priority: it takes the
# cycles the TensorFlow suite leaves idle and a few more, enough to end
# before the suite (at the lowest priority it ran on alone, on one core, for
# the last half minute); its output follows the suite's.
# The essential checks only, as each eager JAX call compiles and the whole
# set takes 10 minutes there. One process, without XLA's code optimizations:
# its CPU time is mostly compiling each op once (92 s against 135 s with two
# processes and the optimizations; the same results). PyTorch runs the whole
# set (`make test-torch`).
LAYER_TESTS := tests/layers/test_simple_rnn.py tests/layers/test_gru.py \
	tests/layers/test_lstm.py tests/layers/test_attention.py tests/layers/test_tree.py \
	tests/layers/test_text_cnn.py tests/layers/test_recurrent.py tests/decoding
JAX_SELECT := not (recurrent.py and not (bidirectional or padded)) \
	and not (gradients and not (tanh or TreeLSTM)) and not mixed_precision \
	and not (python_reference and not 3-0) and not exhaustive and not gru_states
JAX_ENV := KERAS_BACKEND=jax XLA_FLAGS=--xla_backend_optimization_level=0
JAX_PYTEST := $(BIN)/python -m pytest -p no:xdist -p no:cacheprovider \
	-m "not tensorflow_only" -k "$(JAX_SELECT)" $(LAYER_TESTS)

test: lint
	@log=$$(mktemp); \
	$(JAX_ENV) nice -n 10 $(JAX_PYTEST) > $$log 2>&1 & jax=$$!; \
	$(BIN)/python -m pytest -n 3 --dist loadgroup --no-loadscope-reorder; \
	tf=$$?; \
	wait $$jax; jax_status=$$?; \
	echo "--- The layer and decoding tests on JAX (KERAS_BACKEND=jax) ---"; \
	cat $$log; rm -f $$log; \
	test $$tf -eq 0 && test $$jax_status -eq 0

# The JAX part of `make test` alone.
test-jax: $(VENV)/.installed
	$(JAX_ENV) $(JAX_PYTEST)

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
