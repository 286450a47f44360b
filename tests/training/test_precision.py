import keras
import numpy as np
import pytest

from garden.training import PRECISIONS, resolve_precision, set_precision


def test_auto_is_float32_without_a_gpu():
    assert not keras.distribution.list_devices("gpu")
    assert resolve_precision("auto") == "float32"


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
