"""Training speed of the garden's LSTM and GRU against Keras's built-ins.

The layers train in one process, interleaved round by round, on the same
shapes and the same random token ids, so the ratio ours / built-in is
measured under the same load. Ours runs twice: with its cell's loop
(`use_cudnn=False`) and with the backend's fused kernel (`use_cudnn=True`),
where the backend has one (a GPU); elsewhere the fused column says n/a. Keras
runs with its default, which is fused where that is possible. Two shapes from
the lectures' tasks:

    lm          batch 32, 64 steps, embedding 128, 256 units, 10,000-word softmax
    classifier  batch 64, 500 steps, embedding 100, 128 units, masked padding

Run:

    python benchmarks/rnn_speed.py                 # all four cases
    python benchmarks/rnn_speed.py --rounds 7 --steps 5 --cells lstm
"""

import argparse
import functools
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import garden.layers  # noqa: E402

SHAPES = {
    "lm": dict(batch=32, steps=64, embedding=128, units=256, vocab=10_000),
    "classifier": dict(batch=64, steps=500, embedding=100, units=128, vocab=20_000),
}
LAYERS = {
    "lstm": (garden.layers.LSTM, keras.layers.LSTM),
    "gru": (garden.layers.GRU, keras.layers.GRU),
}


def build_model(layer_class, shape_name, shape):
    tokens = keras.Input((shape["steps"],), batch_size=shape["batch"], dtype="int32")
    mask_zero = shape_name == "classifier"
    x = keras.layers.Embedding(shape["vocab"], shape["embedding"], mask_zero=mask_zero)(
        tokens
    )
    if shape_name == "lm":
        x = layer_class(shape["units"], return_sequences=True)(x)
        logits = keras.layers.Dense(shape["vocab"])(x)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        x = layer_class(shape["units"])(x)
        logits = keras.layers.Dense(1)(x)
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
    model = keras.Model(tokens, logits)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    return model


def make_batch(shape_name, shape, rng):
    batch, steps = shape["batch"], shape["steps"]
    x = rng.integers(1, shape["vocab"], size=(batch, steps)).astype("int32")
    if shape_name == "lm":
        y = rng.integers(0, shape["vocab"], size=(batch, steps)).astype("int32")
    else:
        # Reviews of mixed lengths, right-padded with 0 as the data layer does.
        lengths = rng.integers(steps // 4, steps + 1, size=batch)
        x[np.arange(steps)[None, :] >= lengths[:, None]] = 0
        y = rng.integers(0, 2, size=(batch, 1)).astype("float32")
    return x, y


def seconds_per_step(model, x, y, steps):
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return (time.perf_counter() - start) / steps


def fused_path_available(cell):
    """Whether the backend runs `cell` fused here (it refuses on a CPU)."""
    layer = LAYERS[cell][0](1, use_cudnn=True)
    try:
        layer(np.zeros((1, 2, 1), "float32"))
    except ValueError:
        return False
    return True


def run_case(cell, shape_name, rounds, steps, rng, fused):
    shape = SHAPES[shape_name]
    ours_class, keras_class = LAYERS[cell]
    models = {
        "loop": build_model(
            functools.partial(ours_class, use_cudnn=False), shape_name, shape
        ),
        "keras": build_model(keras_class, shape_name, shape),
    }
    if fused:
        models["fused"] = build_model(
            functools.partial(ours_class, use_cudnn=True), shape_name, shape
        )
    x, y = make_batch(shape_name, shape, rng)
    for name, model in list(models.items()):  # warm-up: trace and compile
        try:
            seconds_per_step(model, x, y, 2)
        except ValueError:
            if name != "fused":
                raise
            # The backend refuses this case (JAX's kernels take no masks).
            del models[name]
    times = {name: [] for name in models}
    for round_index in range(rounds):
        order = list(models) if round_index % 2 == 0 else list(models)[::-1]
        for name in order:
            times[name].append(seconds_per_step(models[name], x, y, steps))
    tokens = shape["batch"] * shape["steps"]
    return {name: tokens / statistics.median(times[name]) for name in times}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=list(LAYERS), choices=LAYERS)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=SHAPES)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4, help="train steps per round")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1:
        parser.error("--rounds and --steps must be positive integers")

    rng = np.random.default_rng(0)
    backend = keras.backend.backend()
    print(f"keras {keras.__version__}, backend {backend}")
    fused = {cell: fused_path_available(cell) for cell in args.cells}
    for cell, available in fused.items():
        if not available:
            print(
                f"fused path unavailable: the {backend} backend has no fused "
                f"{cell.upper()} kernel on this machine (it needs a GPU)"
            )
    print(
        "| case | ours, loop (tokens/s) | ours, fused (tokens/s) "
        "| keras (tokens/s) | loop / keras | fused / keras |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for shape_name in args.shapes:
        for cell in args.cells:
            speed = run_case(
                cell, shape_name, args.rounds, args.steps, rng, fused[cell]
            )
            keras_speed = speed["keras"]
            if "fused" in speed:
                fused_cells = (
                    f"{speed['fused']:,.0f} | {keras_speed:,.0f} "
                    f"| {speed['loop'] / keras_speed:.2f} "
                    f"| {speed['fused'] / keras_speed:.2f}"
                )
            else:
                fused_cells = (
                    f"n/a | {keras_speed:,.0f} "
                    f"| {speed['loop'] / keras_speed:.2f} | n/a"
                )
            print(
                f"| {cell}, {shape_name} | {speed['loop']:,.0f} | {fused_cells} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
