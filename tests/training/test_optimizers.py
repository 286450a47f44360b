import keras
import pytest

from garden.training import OPTIMIZERS, make_optimizer
from garden.training.averaging import AveragedSGD


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_lecture_optimizer(name):
    optimizer = make_optimizer(name, 0.5, clip_norm=1.0)
    expected = {
        "sgd": keras.optimizers.SGD,
        "momentum": keras.optimizers.SGD,
        "adagrad": keras.optimizers.Adagrad,
        "rmsprop": keras.optimizers.RMSprop,
        "adadelta": keras.optimizers.Adadelta,
        "adam": keras.optimizers.Adam,
    }[name]
    assert type(optimizer) is expected
    assert optimizer.global_clipnorm == 1.0
    if name in ("sgd", "momentum"):
        assert optimizer.momentum == (0.9 if name == "momentum" else 0.0)


def test_clipping_bounds_the_update():
    variable = keras.Variable([0.0, 0.0])
    optimizer = make_optimizer("sgd", 1.0, clip_norm=0.5)
    optimizer.apply_gradients([(keras.ops.convert_to_tensor([30.0, 40.0]), variable)])
    # The gradient of norm 50 is scaled to norm 0.5: a step of (-0.3, -0.4).
    assert [round(float(v), 5) for v in variable.numpy()] == [-0.3, -0.4]


def test_bad_arguments():
    with pytest.raises(ValueError, match="`optimizer`.*'adam'"):
        make_optimizer("lbfgs")
    with pytest.raises(ValueError, match="`learning_rate`"):
        make_optimizer("adam", 0.0)
    with pytest.raises(ValueError, match="`clip_norm`"):
        make_optimizer("adam", clip_norm=-1)


def test_weight_averaging_momentum_is_checked():
    optimizer = make_optimizer("adam", 0.01, ema_momentum=0.99)
    assert optimizer.use_ema and optimizer.ema_momentum == 0.99
    with pytest.raises(ValueError, match="ema_momentum"):
        make_optimizer("adam", 0.01, ema_momentum=1.0)


def test_averaged_sgd_is_sgd_that_keeps_the_mean_of_its_iterates():
    optimizer = make_optimizer("sgd", 0.5, clip_norm=1.0, averaged=True)
    assert isinstance(optimizer, AveragedSGD) and optimizer.use_ema
    assert (optimizer.learning_rate, optimizer.global_clipnorm) == (0.5, 1.0)
    clone = AveragedSGD.from_config(optimizer.get_config())
    assert clone.get_config() == optimizer.get_config()
