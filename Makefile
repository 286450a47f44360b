# Two commands set up everything on a fresh machine (Python 3.10+):
#   make demo   trains a garden LSTM on a real corpus and prints its loss falling
#   make test   lint and the whole test suite
# Both create .venv and install the project into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-jax lint benchmark clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,jax]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m recipes.demo

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Two pytest workers: most tests wait on one core (tracing, subprocesses);
# an idle worker takes queued tests from the busy one (worksteal), so one
# long test at the end does not keep the other worker waiting.
TF_TESTS := -n 2 --dist worksteal
# Then the keras.ops code again on JAX, in its own process (the backend is
# chosen when Keras is imported): the essential checks only, as each eager
# JAX call compiles and the whole set takes 10 minutes there.
JAX_TESTS := tests/layers/test_simple_rnn.py tests/layers/test_gru.py \
	tests/layers/test_lstm.py tests/layers/test_attention.py tests/layers/test_tree.py \
	tests/layers/test_text_cnn.py tests/layers/test_recurrent.py tests/decoding
JAX_SELECT := not (recurrent.py and not (bidirectional or padded)) \
	and not (gradients and not (tanh or TreeLSTM)) and not mixed_precision \
	and not (python_reference and not 3-0) and not exhaustive and not gru_states
JAX_ARGS := -m "not tensorflow_only" -k "$(JAX_SELECT)" $(JAX_TESTS)

# Both backends at once: the TensorFlow workers leave about a quarter of the
# two cores idle (subprocesses starting, files written), which the JAX run,
# at a lower priority, takes; one after the other took past 15 minutes on a
# 2-core machine. The JAX run's report follows the TensorFlow one.
test: lint
	@jax_tmp=$$(mktemp -d); \
	KERAS_BACKEND=jax nice -n 10 $(BIN)/python -m pytest -q -p no:cacheprovider \
		--basetemp "$$jax_tmp/tmp" $(JAX_ARGS) >"$$jax_tmp/log" 2>&1 & jax=$$!; \
	trap 'kill $$jax 2>/dev/null' INT TERM; \
	$(BIN)/python -m pytest $(TF_TESTS); tf=$$?; \
	wait $$jax; jx=$$?; \
	echo "== the layer and decoding tests on the JAX backend =="; \
	cat "$$jax_tmp/log"; rm -rf "$$jax_tmp"; \
	test $$tf -eq 0 && test $$jx -eq 0

test-jax: $(VENV)/.installed
	KERAS_BACKEND=jax $(BIN)/python -m pytest -n 2 $(JAX_ARGS)

benchmark: $(VENV)/.installed
	$(BIN)/python benchmarks/rnn_speed.py
	$(BIN)/python benchmarks/data_pipeline.py
	$(BIN)/python benchmarks/precision_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
