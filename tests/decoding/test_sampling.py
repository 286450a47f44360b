import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from garden.decoding import filter_top_k, filter_top_p, generate, greedy, next_token


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def kept(filtered_logits):
    """Which tokens keep probability mass after filtering."""
    probs = np.asarray(ops.softmax(ops.cast(filtered_logits, "float32"), axis=-1))
    return probs > 0


def random_logits(batch=4, vocab=10, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, vocab)).astype("float32")


@pytest.mark.parametrize("k", [1, 3, 9])
def test_top_k_keeps_exactly_the_k_largest(k):
    logits = random_logits()
    mask = kept(filter_top_k(logits, k))
    assert (mask.sum(axis=-1) == k).all()
    largest = np.argsort(-logits, axis=-1)[:, :k]
    for row in range(len(logits)):
        assert set(np.flatnonzero(mask[row])) == set(largest[row])


@pytest.mark.parametrize("k", [0, -2, 10, 50])
def test_top_k_out_of_range_means_no_filtering(k):
    logits = random_logits()
    np.testing.assert_array_equal(np.asarray(filter_top_k(logits, k)), logits)


@pytest.mark.tensorflow_only(reason="tf.function with tensor arguments")
def test_top_k_as_a_tensor_in_a_graph():
    logits = random_logits()
    filtered = tf.function(
        filter_top_k,
        input_signature=[
            tf.TensorSpec((None, 10), tf.float32),
            tf.TensorSpec((), tf.int32),
        ],
    )
    assert (kept(filtered(logits, tf.constant(2))).sum(axis=-1) == 2).all()
    assert kept(filtered(logits, tf.constant(0))).all()
    assert kept(filtered(logits, tf.constant(10))).all()


@pytest.mark.parametrize("p, size", [(0.3, 1), (0.5, 1), (0.8, 2), (0.81, 3), (1.0, 4)])
def test_top_p_keeps_the_smallest_nucleus(p, size):
    probs = np.array([0.15, 0.5, 0.05, 0.3], "float32")  # shuffled on purpose
    logits = np.log(probs)[None, :]
    mask = kept(filter_top_p(logits, p))[0]
    nucleus = np.argsort(-probs)[:size]
    assert set(np.flatnonzero(mask)) == set(nucleus)


@pytest.mark.parametrize("p, size", [(0.5, 1), (0.8, 2)])
def test_top_p_boundary_survives_float32_rounding(p, size):
    # softmax(log([0.5, 0.3, 0.2])) sums to 0.49999997 and 0.79999995 in
    # float32: exactly p should still stop the nucleus there.
    logits = np.log(np.array([[0.5, 0.3, 0.2]], "float32"))
    assert kept(filter_top_p(logits, p)).sum() == size


@pytest.mark.tensorflow_only(reason="tf.function with tensor arguments")
def test_top_p_as_a_tensor_in_a_graph():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]], "float32"))
    filtered = tf.function(
        filter_top_p,
        input_signature=[
            tf.TensorSpec((None, 4), tf.float32),
            tf.TensorSpec((), tf.float32),
        ],
    )
    sizes = [kept(filtered(logits, tf.constant(p))).sum() for p in (0.8, 0.81, 1.0)]
    assert sizes == [2, 3, 4]
    assert kept(filtered(logits, tf.constant(0.0))).sum() == 1


def frequencies(ids, vocab):
    ids = ops.convert_to_numpy(ids)
    return np.bincount(ids.ravel(), minlength=vocab) / ids.size


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sample_frequencies_match_tempered_softmax(temperature):
    z = np.array([1.0, 2.0, 0.5, -1.0], "float32")
    samples = 20000
    ids = next_token(np.tile(z, (samples, 1)), temperature=temperature, seed=3)
    # Standard error is at most 0.0036; 0.015 is four of them.
    np.testing.assert_allclose(
        frequencies(ids, 4), softmax(z / temperature), atol=0.015
    )


def test_generate_samples_from_the_same_distribution():
    z = np.array([1.0, 2.0, 0.5, -1.0], "float32")

    def constant_model(token_ids, states):
        return ops.tile(z[None, :], (ops.shape(token_ids)[0], 1)), states

    prompt = np.zeros((5000, 1), "int32")
    ids, _ = generate(constant_model, prompt, [], max_length=4, temperature=2.0, seed=5)
    np.testing.assert_allclose(frequencies(ids, 4), softmax(z / 2.0), atol=0.015)
    # Each step gets its own draw, not a replay of the first.
    assert (np.asarray(ids)[:, 0] != np.asarray(ids)[:, 1]).mean() > 0.3


def test_top_k_and_top_p_restrict_the_samples():
    z = np.log(np.array([[0.4, 0.3, 0.2, 0.1]], "float32"))
    many = np.tile(z, (4000, 1))
    assert set(np.unique(next_token(many, top_k=2, seed=1))) == {0, 1}
    assert set(np.unique(next_token(many, top_p=0.65, seed=1))) == {0, 1}
    renormalised = frequencies(next_token(many, top_k=3, seed=1), 4)
    np.testing.assert_allclose(renormalised, [4 / 9, 3 / 9, 2 / 9, 0], atol=0.03)


def test_low_temperature_concentrates_and_zero_is_argmax():
    logits = random_logits(batch=256, vocab=8)
    argmax = logits.argmax(axis=-1)
    np.testing.assert_array_equal(next_token(logits, temperature=0.0), argmax)
    np.testing.assert_array_equal(greedy(logits), argmax)
    cold = np.asarray(next_token(logits, temperature=0.01, seed=2))
    warm = np.asarray(next_token(logits, temperature=1.0, seed=2))
    assert (cold == argmax).mean() > 0.95
    assert (warm == argmax).mean() < 0.8


@pytest.mark.tensorflow_only(reason="tf.function with tensor arguments")
def test_tensor_temperature_at_or_below_zero_is_greedy_in_a_graph():
    logits = random_logits(batch=64, vocab=8)
    sample = tf.function(
        lambda z, t: next_token(z, temperature=t, top_k=5, top_p=0.9, seed=4),
        input_signature=[
            tf.TensorSpec((None, 8), tf.float32),
            tf.TensorSpec((), tf.float32),
        ],
    )
    argmax = logits.argmax(axis=-1)
    np.testing.assert_array_equal(sample(logits, tf.constant(0.0)), argmax)
    np.testing.assert_array_equal(sample(logits, tf.constant(-1.0)), argmax)
    assert (np.asarray(sample(logits, tf.constant(1.0))) != argmax).any()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_logits_give_no_nan(dtype):
    # Logits near the float16 limits: a fill of -inf or of a float32 minimum
    # would overflow or turn into NaN in the softmax.
    rng = np.random.default_rng(0)
    # Distinct after rounding to 8 bits of mantissa, so top-k has no ties.
    logits = np.stack([rng.permutation(16) * 4000.0 - 30000.0 for _ in range(8)])
    half = ops.cast(logits, dtype)
    for filtered in (filter_top_k(half, 3), filter_top_p(half, 0.5)):
        assert keras.backend.standardize_dtype(filtered.dtype) == dtype
        values = np.asarray(ops.cast(filtered, "float32"))
        assert np.isfinite(values).all()
        probabilities = ops.cast(ops.softmax(filtered, axis=-1), "float32")
        assert not np.isnan(np.asarray(probabilities)).any()
    ids = np.asarray(next_token(half, temperature=0.7, top_k=3, top_p=0.9, seed=0))
    assert ((ids >= 0) & (ids < 16)).all()
    survivors = np.asarray(ops.cast(filter_top_k(half, 3), "float32")) > -6e4
    assert (survivors.sum(axis=-1) == 3).all()


def test_a_seed_makes_sampling_reproducible():
    logits = np.zeros((200, 50), "float32")
    first = np.asarray(next_token(logits, seed=11))
    np.testing.assert_array_equal(next_token(logits, seed=11), first)
    assert (np.asarray(next_token(logits, seed=12)) != first).any()
    a, b = keras.random.SeedGenerator(5), keras.random.SeedGenerator(5)
    np.testing.assert_array_equal(
        next_token(logits, seed=a), next_token(logits, seed=b)
    )
    # A generator advances, so its next draw differs.
    assert (np.asarray(next_token(logits, seed=a)) != first).any()


VOCAB = 7


def counting_model(token_ids, states):
    """Predicts (last token + number of calls so far) % VOCAB, as sharp logits.

    The call count lives in the state, so the sequence is right only if the
    states are threaded from one step to the next.
    """
    calls = states[0] + 1
    next_ids = (token_ids[:, -1] + calls) % VOCAB
    return 100.0 * ops.one_hot(next_ids, VOCAB), [calls]


def counting_expected(prompt, length):
    rows = []
    for row in prompt:
        last, sequence = row[-1], []
        for calls in range(1, length + 1):
            last = (last + calls) % VOCAB
            sequence.append(last)
        rows.append(sequence)
    return np.array(rows)


PROMPT = np.array([[1, 2], [3, 5]], "int32")


def initial_count(batch):
    return [ops.zeros((batch,), "int32")]


def test_generate_toy_model_eagerly():
    ids, length = generate(
        counting_model, PROMPT, initial_count(2), max_length=6, temperature=0.0
    )
    assert int(length) == 6
    np.testing.assert_array_equal(ids, counting_expected(PROMPT, 6))
    # With sharp logits, sampling at T=1 picks the same tokens.
    sampled, _ = generate(counting_model, PROMPT, initial_count(2), 6, seed=0)
    np.testing.assert_array_equal(sampled, counting_expected(PROMPT, 6))


@pytest.mark.tensorflow_only(reason="tf.function with tensor arguments")
def test_generate_toy_model_in_tf_function_with_tensor_arguments():
    limit = 8

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((), tf.int32),
            tf.TensorSpec((), tf.float32),
        ]
    )
    def serve(prompt, max_length, temperature):
        states = initial_count(tf.shape(prompt)[0])
        return generate(
            counting_model,
            prompt,
            states,
            max_length,
            temperature=temperature,
            seed=0,
            max_length_limit=limit,
        )

    for temperature in (0.0, 1.0):
        ids, length = serve(PROMPT, tf.constant(5), tf.constant(temperature))
        assert int(length) == 5
        np.testing.assert_array_equal(ids[:, :5], counting_expected(PROMPT, 5))
        np.testing.assert_array_equal(ids[:, 5:], 0)
    ids, length = serve(PROMPT, tf.constant(50), tf.constant(0.0))
    assert int(length) == limit and ids.shape == (2, limit)
    np.testing.assert_array_equal(ids, counting_expected(PROMPT, limit))
    ids, length = serve(PROMPT, tf.constant(-3), tf.constant(0.0))
    assert int(length) == 0
    np.testing.assert_array_equal(ids, 0)


def gru_language_model(vocab=11, units=16):
    # Seeded weights, whatever the suite's seed: the state must sway the tokens.
    tokens = keras.Input((None,), dtype="int32")
    state = keras.Input((units,))
    embedded = keras.layers.Embedding(
        vocab, 8, embeddings_initializer=keras.initializers.RandomNormal(seed=0)
    )(tokens)
    sequence, new_state = keras.layers.GRU(
        units,
        return_sequences=True,
        return_state=True,
        kernel_initializer=keras.initializers.GlorotUniform(seed=1),
        recurrent_initializer=keras.initializers.Orthogonal(gain=2.0, seed=2),
    )(embedded, initial_state=state)
    logits = keras.layers.Dense(
        vocab, kernel_initializer=keras.initializers.GlorotUniform(seed=3)
    )(sequence)
    return keras.Model([tokens, state], [logits, new_state])


def gru_step_fn(model):
    def step_fn(token_ids, states):
        logits, state = model([token_ids, states[0]])
        return logits, [state]

    return step_fn


def naive_greedy(model, prompt, steps, thread_states=True):
    """Step by step in Python, one model call per token."""
    zeros = np.zeros((len(prompt), 16), "float32")
    logits, state = model([prompt, zeros])
    tokens = []
    for _ in range(steps):
        token = np.asarray(logits)[:, -1].argmax(axis=-1).astype("int32")
        tokens.append(token)
        state = np.asarray(state) if thread_states else zeros
        logits, state = model([token[:, None], state])
    return np.stack(tokens, axis=1)


def test_generate_threads_gru_states_like_a_python_loop():
    model = gru_language_model()
    prompt = np.array([[1, 4, 2], [7, 7, 3], [10, 0, 5]], "int32")
    expected = naive_greedy(model, prompt, 12)
    # The comparison has power: forgetting the state changes the tokens.
    assert (naive_greedy(model, prompt, 12, thread_states=False) != expected).any()
    zeros = [ops.zeros((3, 16))]
    ids, _ = generate(gru_step_fn(model), prompt, zeros, 12, temperature=0.0)
    np.testing.assert_array_equal(ids, expected)


@pytest.mark.tensorflow_only(reason="tf.function with tensor arguments")
def test_generate_threads_gru_states_in_tf_function():
    model = gru_language_model()
    prompt = np.array([[1, 4, 2], [7, 7, 3], [10, 0, 5]], "int32")
    expected = naive_greedy(model, prompt, 12)

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((), tf.int32),
            tf.TensorSpec((), tf.float32),
        ]
    )
    def serve(prompt, max_length, temperature):
        states = [tf.zeros((tf.shape(prompt)[0], 16))]
        return generate(
            gru_step_fn(model),
            prompt,
            states,
            max_length,
            temperature=temperature,
            max_length_limit=16,
        )

    ids, length = serve(prompt, tf.constant(12), tf.constant(0.0))
    assert int(length) == 12
    np.testing.assert_array_equal(ids[:, :12], expected)


@pytest.mark.tensorflow_only(reason="a SavedModel export")
def test_generate_runs_in_an_exported_archive(tmp_path):
    model = gru_language_model()
    prompt = np.array([[1, 4, 2]], "int32")
    seed_generator = keras.random.SeedGenerator(3)

    def serve(prompt, max_length, temperature):
        states = [tf.zeros((tf.shape(prompt)[0], 16))]
        ids, length = generate(
            gru_step_fn(model),
            prompt,
            states,
            max_length,
            temperature=temperature,
            top_k=5,
            seed=seed_generator,
            max_length_limit=16,
        )
        return {"ids": ids, "length": length}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serve",
        serve,
        input_signature=[
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((), tf.int32),
            tf.TensorSpec((), tf.float32),
        ],
    )
    archive.write_out(str(tmp_path / "lm"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "lm"))
    greedy_out = reloaded.serve(prompt, tf.constant(6), tf.constant(0.0))
    np.testing.assert_array_equal(
        greedy_out["ids"][:, :6], naive_greedy(model, prompt, 6)
    )
    hot = [reloaded.serve(prompt, tf.constant(16), tf.constant(5.0)) for _ in range(3)]
    draws = {tuple(np.asarray(out["ids"])[0]) for out in hot}
    assert len(draws) > 1  # the tracked seed generator advances between calls


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: next_token(np.zeros((1, 3)), temperature=-0.5), "temperature"),
        (lambda: next_token(np.zeros((1, 3)), top_k=-1), "top_k"),
        (lambda: next_token(np.zeros((1, 3)), top_k=2.5), "top_k"),
        (lambda: next_token(np.zeros((1, 3)), top_p=0.0), "top_p"),
        (lambda: next_token(np.zeros((1, 3)), top_p=1.5), "top_p"),
        (lambda: filter_top_p(np.zeros((1, 3)), 0.0), "p"),
        (lambda: generate(counting_model, PROMPT, initial_count(2), 0), "max_length"),
        (lambda: generate(counting_model, PROMPT, initial_count(2), -4), "max_length"),
        (
            lambda: generate(counting_model, PROMPT, initial_count(2), 9, -1.0),
            "temperature",
        ),
        (
            lambda: generate(
                counting_model, PROMPT, initial_count(2), 9, max_length_limit=4
            ),
            "max_length",
        ),
        (
            lambda: generate(
                counting_model, PROMPT, initial_count(2), ops.convert_to_tensor(3)
            ),
            "max_length_limit",
        ),
        (
            lambda: generate(counting_model, PROMPT, initial_count(2), 3, top_k=-1),
            "top_k",
        ),
        (
            lambda: generate(counting_model, PROMPT, initial_count(2), 3, top_p=2.0),
            "top_p",
        ),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(call, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        call()


def constant_model_of(z):
    def constant_model(token_ids, states):
        return ops.tile(z[None, :], (ops.shape(token_ids)[0], 1)), states

    return constant_model


def test_top_p_is_the_nucleus_of_the_tempered_distribution():
    # At T = 1 the nucleus of mass 0.8 of [0.5, 0.3, 0.15, 0.05] is two tokens.
    # At T = 2 the distribution is softmax(z / 2), proportional to sqrt(pi):
    # [0.379, 0.294, 0.207, 0.120], and the nucleus needs three tokens.
    z = np.log(np.array([0.5, 0.3, 0.15, 0.05], "float32"))
    tempered = softmax(z / 2.0)
    want = np.append(tempered[:3] / tempered[:3].sum(), 0.0)
    ids = next_token(np.tile(z, (20000, 1)), temperature=2.0, top_p=0.8, seed=0)
    np.testing.assert_allclose(frequencies(ids, 4), want, atol=0.015)
    prompt = np.zeros((5000, 1), "int32")
    generated, _ = generate(
        constant_model_of(z), prompt, [], 4, temperature=2.0, top_p=0.8, seed=1
    )
    np.testing.assert_allclose(frequencies(generated, 4), want, atol=0.015)


def test_top_p_is_taken_from_the_top_k_renormalised_distribution():
    # top_k = 2 keeps [0.4, 0.3], renormalised to [4/7, 3/7]; the nucleus of
    # mass 0.5 of that is the first token alone. (The nucleus of the full
    # distribution, 0.4 + 0.3, cut to two tokens, would keep both.)
    z = np.log(np.array([0.4, 0.3, 0.2, 0.1], "float32"))
    many = np.tile(z, (4000, 1))
    assert set(np.unique(next_token(many, top_k=2, top_p=0.5, seed=1))) == {0}
    prompt = np.zeros((1000, 1), "int32")
    generated, _ = generate(
        constant_model_of(z), prompt, [], 3, top_k=2, top_p=0.5, seed=2
    )
    assert set(np.unique(generated)) == {0}


def test_generate_restricts_its_samples_to_top_k_and_top_p():
    z = np.log(np.array([0.4, 0.3, 0.2, 0.1], "float32"))
    prompt = np.zeros((4000, 1), "int32")
    by_k, _ = generate(constant_model_of(z), prompt, [], 3, top_k=3, seed=3)
    np.testing.assert_allclose(
        frequencies(by_k, 4), [4 / 9, 3 / 9, 2 / 9, 0], atol=0.02
    )
    by_p, _ = generate(constant_model_of(z), prompt, [], 3, top_p=0.65, seed=3)
    np.testing.assert_allclose(frequencies(by_p, 4), [4 / 7, 3 / 7, 0, 0], atol=0.02)
