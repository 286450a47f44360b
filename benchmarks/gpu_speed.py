"""Train-step time of the garden's LSTM and GRU against Keras's on a GPU.

On a GPU, `keras.layers.LSTM` and `GRU` run the whole sequence as one fused
(cuDNN) kernel, and the garden layers make the same call where Keras does.
This script checks that the garden pays nothing for writing its cells from
the equations: for each recipe's shape it trains three models of the same
architecture on the same batch, in one process,

    garden        garden layers, default use_cudnn="auto" (fused where possible)
    keras         keras.layers.LSTM / GRU
    garden loop   garden layers, use_cudnn=False (the cell's own loop)

and prints milliseconds per train step (median of the rounds) and the ratios
garden / keras and garden loop / keras, with whether each model took the
fused path (seen by wrapping the backend's `lstm` and `gru`) and, before any
training, the largest difference between each model's output and the fused
garden model's with the same weights. The cases:

    char_lm      LSTM 256 over one-hot characters (28), batch 32 x 35 steps,
                 28-way softmax (The Time Machine)
    ptb_small    2 x LSTM 200, embedding 200, 10,000-word softmax,
                 batch 20 x 35 steps (PTB, Zaremba et al.'s small model)
    imdb_bilstm  BiLSTM 128, embedding 100, 27,790 words, batch 64 x 400
                 steps, right-padded reviews of 200..400 tokens, masked (IMDb)
    seq2seq_gru  GRU encoder-decoder 256, embeddings 256, English 9,700 and
                 French 17,186 words, batch 64 x 12 tokens a side, masked
                 (fra-eng)

each in float32 and in mixed_float16 (`--policies`). The models of a case
train interleaved after warm-up steps (each round times `--steps` steps of
each model, in turn order reversed every other round), so a busy machine
slows all alike. Token ids are random: a step's time does not depend on
which ids it reads. Nothing is downloaded.

The backend is `KERAS_BACKEND` when set, else TensorFlow if installed, else
JAX, else PyTorch; TensorFlow need not be installed. With no GPU visible the
script stops with exit status 2; `--allow-cpu` runs it anyway (to check the
script, not to measure).

Run:

    python benchmarks/gpu_speed.py
    KERAS_BACKEND=jax python benchmarks/gpu_speed.py --cases imdb_bilstm
    python benchmarks/gpu_speed.py --allow-cpu --rounds 1 --steps 1 --warmup 1
"""

import argparse
import importlib.util
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "KERAS_BACKEND" not in os.environ:
    for _backend, _module in (
        ("tensorflow", "tensorflow"),
        ("jax", "jax"),
        ("torch", "torch"),
    ):
        if importlib.util.find_spec(_module) is not None:
            os.environ["KERAS_BACKEND"] = _backend
            break

# Only the layers are needed: `import garden` would also load the data and
# export modules, which need TensorFlow, absent from a JAX- or PyTorch-only
# GPU machine.
os.environ.setdefault("GARDEN_DEFER_KERAS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src import backend as keras_backend  # noqa: E402

import garden.layers  # noqa: E402
from garden.devices import visible_gpus  # noqa: E402

MODELS = ("garden", "keras", "garden loop")
POLICIES = ("float32", "mixed_float16")


class FusedCalls:
    """Counts the backend's fused calls that ran (did not refuse)."""

    def __init__(self):
        self.count = 0
        for name in ("lstm", "gru"):
            setattr(keras_backend, name, self._counting(getattr(keras_backend, name)))

    def _counting(self, kernel):
        def counted(*args, **kwargs):
            result = kernel(*args, **kwargs)
            self.count += 1
            return result

        return counted


def layer_factory(model_name, cell):
    """The recurrent layer class of a model: garden (fused or loop) or Keras."""
    if model_name == "keras":
        return {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    layer_class = {"lstm": garden.layers.LSTM, "gru": garden.layers.GRU}[cell]
    use_cudnn = "auto" if model_name == "garden" else False

    def make(units, **kwargs):
        return layer_class(units, use_cudnn=use_cudnn, **kwargs)

    return make


def right_padded_ids(rng, vocab_size, batch, length, shortest):
    """Random ids >= 4 (no reserved ids), right-padded with 0 from a random length."""
    ids = rng.integers(4, vocab_size, size=(batch, length)).astype("int32")
    lengths = rng.integers(shortest, length + 1, size=batch)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = 0
    return ids


def token_loss():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def char_lm(rng):
    batch, steps, chars, units = 32, 35, 28, 256
    ids = rng.integers(0, chars, size=(batch, steps + 1))
    x = np.eye(chars, dtype="float32")[ids[:, :-1]]
    y = ids[:, 1:].astype("int32")

    def build(make_layer):
        inputs = keras.Input((steps, chars))
        hidden = make_layer(units, return_sequences=True)(inputs)
        logits = keras.layers.Dense(chars, dtype="float32")(hidden)
        return keras.Model(inputs, logits), token_loss()

    return build, "lstm", x, y


def ptb_small(rng):
    batch, steps, vocab, size = 20, 35, 10_000, 200
    ids = rng.integers(4, vocab, size=(batch, steps + 1)).astype("int32")

    def build(make_layer):
        tokens = keras.Input((steps,), dtype="int32")
        hidden = keras.layers.Embedding(vocab, size)(tokens)
        for _ in range(2):
            hidden = make_layer(size, return_sequences=True)(hidden)
        logits = keras.layers.Dense(vocab, dtype="float32")(hidden)
        return keras.Model(tokens, logits), token_loss()

    return build, "lstm", ids[:, :-1], ids[:, 1:]


def imdb_bilstm(rng):
    batch, steps, vocab, embedding, units = 64, 400, 27_790, 100, 128
    x = right_padded_ids(rng, vocab, batch, steps, shortest=200)
    y = rng.integers(0, 2, size=(batch, 1)).astype("float32")

    def build(make_layer):
        tokens = keras.Input((steps,), dtype="int32")
        hidden = keras.layers.Embedding(vocab, embedding, mask_zero=True)(tokens)
        hidden = keras.layers.Bidirectional(make_layer(units))(hidden)
        logits = keras.layers.Dense(1, dtype="float32")(hidden)
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        return keras.Model(tokens, logits), loss

    return build, "lstm", x, y


def seq2seq_gru(rng):
    batch, steps, units = 64, 12, 256
    source_vocab, target_vocab = 9_700, 17_186
    source = right_padded_ids(rng, source_vocab, batch, steps, shortest=4)
    target = right_padded_ids(rng, target_vocab, batch, steps + 1, shortest=5)

    def build(make_layer):
        source_ids = keras.Input((steps,), dtype="int32")
        target_ids = keras.Input((steps,), dtype="int32")
        encoded = keras.layers.Embedding(source_vocab, units, mask_zero=True)(
            source_ids
        )
        _, state = make_layer(units, return_state=True)(encoded)
        decoded = keras.layers.Embedding(target_vocab, units, mask_zero=True)(
            target_ids
        )
        decoded = make_layer(units, return_sequences=True)(
            decoded, initial_state=[state]
        )
        logits = keras.layers.Dense(target_vocab, dtype="float32")(decoded)
        return keras.Model([source_ids, target_ids], logits), token_loss()

    return build, "gru", [source, target[:, :-1]], target[:, 1:]


CASES = {
    "char_lm": char_lm,
    "ptb_small": ptb_small,
    "imdb_bilstm": imdb_bilstm,
    "seq2seq_gru": seq2seq_gru,
}


def seconds_per_step(model, x, y, steps):
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    float(loss)  # waits for the device: the steps are asynchronous
    return (time.perf_counter() - start) / steps


def largest_difference(models, x):
    """Largest |output - garden's output| of each model, all on garden's weights.

    The three models share one weight layout (the garden's is Keras's), so
    they compute the same function: a fused path that read the weights,
    mask or direction wrongly would show here.
    """
    weights = models["garden"].get_weights()
    outputs = {}
    for name, model in models.items():
        model.set_weights(weights)
        outputs[name] = keras.ops.convert_to_numpy(model(x, training=False))
    return {
        name: float(np.max(np.abs(outputs[name] - outputs["garden"])))
        for name in models
        if name != "garden"
    }


def time_case(make_case, policy, args, rng, fused_calls):
    """Median milliseconds per step, the fused-call count of each model, and
    the models' largest output differences before training."""
    keras.config.set_dtype_policy(policy)
    build, cell, x, y = make_case(rng)
    models, fused = {}, {}
    for name in MODELS:
        model, loss = build(layer_factory(name, cell))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
        models[name] = model
    differences = largest_difference(models, x)
    for name, model in models.items():
        before = fused_calls.count
        seconds_per_step(model, x, y, args.warmup)  # traces and compiles
        fused[name] = fused_calls.count - before
    times = {name: [] for name in models}
    for round_index in range(args.rounds):
        order = list(models) if round_index % 2 == 0 else list(models)[::-1]
        for name in order:
            times[name].append(seconds_per_step(models[name], x, y, args.steps))
    ms = {name: 1000 * statistics.median(times[name]) for name in times}
    return ms, fused, differences


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument(
        "--policies",
        nargs="+",
        default=list(POLICIES),
        choices=("float32", "mixed_float16", "mixed_bfloat16"),
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="train steps per round")
    parser.add_argument("--warmup", type=int, default=3, help="steps before timing")
    parser.add_argument(
        "--allow-cpu",
        action="store_true",
        help="run without a GPU (checks the script; the times mean nothing)",
    )
    args = parser.parse_args(argv)
    if min(args.rounds, args.steps, args.warmup) < 1:
        parser.error("--rounds, --steps and --warmup must be positive integers")

    backend = keras.backend.backend()
    gpus = visible_gpus()
    if not gpus and not args.allow_cpu:
        print(
            f"gpu_speed: no GPU is visible to the {backend} backend, so there is "
            "no fused kernel to measure. Run it on a GPU machine, or pass "
            "--allow-cpu to check that the script runs.",
            file=sys.stderr,
        )
        return 2
    print(
        f"keras {keras.__version__}, backend {backend}, "
        f"devices: {', '.join(gpus) or 'CPU only (--allow-cpu)'}"
    )
    fused_calls = FusedCalls()
    rng = np.random.default_rng(0)
    print(
        "| case | policy | garden (ms/step) | keras (ms/step) "
        "| garden loop (ms/step) | garden / keras | loop / keras "
        "| fused: garden, keras | max |diff|: keras, loop |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|---|")
    for case in args.cases:
        for policy in args.policies:
            ms, fused, differences = time_case(
                CASES[case], policy, args, rng, fused_calls
            )
            took = ", ".join(
                "yes" if fused[name] else "no" for name in ("garden", "keras")
            )
            print(
                f"| {case} | {policy} | {ms['garden']:.1f} | {ms['keras']:.1f} "
                f"| {ms['garden loop']:.1f} | {ms['garden'] / ms['keras']:.2f} "
                f"| {ms['garden loop'] / ms['keras']:.2f} | {took} "
                f"| {differences['keras']:.1e}, {differences['garden loop']:.1e} |",
                flush=True,
            )
            if fused["garden loop"]:
                raise AssertionError("use_cudnn=False took the fused path")
    keras.config.set_dtype_policy("float32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
