import keras
import numpy as np
import pytest

from garden.training import PRECISIONS, precision, resolve_precision, set_precision


def test_auto_is_float32_without_a_gpu():
    assert not keras.distribution.list_devices("gpu")
    assert resolve_precision("auto") == "float32"


@pytest.mark.parametrize(
    "gpu, bf16_cpu, pays, expected",
    [
        (True, True, True, "mixed_float16"),
        (False, True, True, "mixed_bfloat16"),
        (False, False, True, "float32"),
        (False, True, False, "float32"),
    ],
)
def test_auto_picks_bfloat16_only_where_it_pays_on_a_cpu_that_has_it(
    gpu, bf16_cpu, pays, expected, monkeypatch
):
    monkeypatch.setattr(precision, "gpu_visible", lambda: gpu)
    monkeypatch.setattr(precision, "cpu_computes_bfloat16", lambda: bf16_cpu)
    assert resolve_precision("auto", bfloat16_pays=pays) == expected
    assert resolve_precision("float32", bfloat16_pays=pays) == "float32"


def test_cpu_flags_are_read_from_the_kernel():
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        flags = next(line for line in cpuinfo if line.startswith("flags")).split()
    assert precision.cpu_computes_bfloat16() == bool(
        {"avx512_bf16", "amx_bf16"} & set(flags)
    )


@pytest.mark.parametrize("precision", PRECISIONS[1:])
def test_set_precision_sets_the_global_policy(precision):
    assert set_precision(precision) == precision
    assert keras.config.dtype_policy().name == precision
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    assert layer.kernel.dtype == "float32"


def test_mixed_float16_compiles_with_loss_scaling():
    set_precision("mixed_float16")
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4),
            keras.layers.Dense(1, dtype="float32"),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    history = model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def test_unknown_precision():
    with pytest.raises(ValueError, match="`precision`.*'mixed_float16'"):
        resolve_precision("float8")


def _dense(units=2):
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(units)])


def test_float32_copy_builds_in_float32_with_the_weights_and_restores_the_policy():
    set_precision("mixed_bfloat16")
    trained = _dense()
    weights = [
        np.full(w.shape, i + 1.0, "float32") for i, w in enumerate(trained.weights)
    ]
    copy = precision.float32_copy(
        lambda **config: _dense(**config), {"units": 2}, weights
    )
    assert copy.layers[0].compute_dtype == "float32"
    np.testing.assert_array_equal(copy.layers[0].kernel.numpy(), weights[0])
    assert keras.config.dtype_policy().name == "mixed_bfloat16"

    def broken(**config):
        raise RuntimeError("build failed")

    with pytest.raises(RuntimeError):
        precision.float32_copy(broken, {}, [])
    assert keras.config.dtype_policy().name == "mixed_bfloat16"


def test_float32_copy_sets_the_weights_where_told():
    weights = [np.ones(w.shape, "float32") for w in _dense().weights]
    built = precision.float32_copy(
        lambda: ("other parts", _dense()), {}, weights, weights_into=lambda b: b[1]
    )
    np.testing.assert_array_equal(built[1].layers[0].kernel.numpy(), weights[0])
