"""NT-ASGD against its definition: the trigger rule and the mean of the iterates."""

import keras
import numpy as np
import pytest

from garden.training import make_optimizer, standard_callbacks
from garden.training.averaging import AveragedSGD, NonMonotonicTrigger
from tests.training.test_callbacks import Scripted

RNG = np.random.default_rng(0)
X = RNG.normal(size=(32, 3)).astype("float32")
Y = X @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.3


def linear_model(optimizer=None):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer or make_optimizer("sgd", 0.05, averaged=True), loss="mse")
    return model


def test_average_is_the_mean_of_the_iterates_since_the_start():
    variable = keras.Variable(np.zeros(4, "float32"))
    optimizer = AveragedSGD(0.1)
    iterates = []
    for step in range(9):
        if step == 3:
            optimizer.start_averaging()
        gradient = RNG.normal(size=4).astype("float32")
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient), variable)])
        iterates.append(variable.numpy().copy())
        if step == 2:
            # Before the start the "average" is the weights: nothing to swap.
            optimizer.finalize_variable_values([variable])
            np.testing.assert_array_equal(variable.numpy(), iterates[-1])
    assert int(optimizer.averaging_start.numpy()) == 3
    optimizer.finalize_variable_values([variable])
    np.testing.assert_allclose(
        variable.numpy(), np.mean(iterates[3:], axis=0), rtol=1e-6
    )


def reference_trigger(values, n):
    """The epoch (from 0) after which Merity et al.'s code switches to ASGD."""
    best_val_loss = []
    for epoch, val_loss in enumerate(values):
        if len(best_val_loss) > n and val_loss > min(best_val_loss[:-n]):
            return epoch
        best_val_loss.append(val_loss)
    return None


@pytest.fixture(scope="module")
def trained():
    """A model whose AveragedSGD has taken its first steps (it is built)."""
    model = linear_model()
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    return model


def run_trigger(model, values, n, mode="min"):
    model.optimizer.averaging_start.assign(-1)
    trigger = NonMonotonicTrigger("val_loss", mode, interval=n)
    trigger.set_model(model)
    trigger.on_train_begin()
    for epoch, value in enumerate(values):
        trigger.on_epoch_end(epoch, {"val_loss": value})
        if trigger.started_epoch is not None:
            start = int(model.optimizer.averaging_start.numpy())
            assert start == int(model.optimizer.iterations.numpy())
            # Once averaging, later epochs change nothing.
            trigger.on_epoch_end(epoch + 1, {"val_loss": 1e9})
            assert int(model.optimizer.averaging_start.numpy()) == start
            break
    return trigger.started_epoch


@pytest.mark.parametrize(
    "values, n, expected",
    [
        ([5, 4, 3, 2, 1, 0.5], 2, None),  # monotone: never
        ([5, 4, 3, 4.5, 4.2], 2, 4),  # 4.2 > min(5, 4), the values 3+ checks ago
        ([5, 4, 3, 4.5], 2, None),  # worse than 3, but not than 5
        ([5, 4, 6, 6, 6, 6], 3, 4),  # the first epoch with 4 before it
        ([3, 2, 2.5, 2.4, 2.3, 2.2, 2.9], 5, None),  # still beats the old 3
        ([3, 2, 2.5, 2.4, 2.3, 2.2, 3.1], 5, 6),
        ([5, 4, 3, 5], 2, None),  # equal to the old best is not worse
    ],
)
def test_trigger_fires_exactly_when_the_rule_says(trained, values, n, expected):
    assert reference_trigger(values, n) == expected
    assert run_trigger(trained, values, n) == expected
    # A score to maximise: the same curve upside down.
    assert run_trigger(trained, [-v for v in values], n, mode="max") == expected


def test_trigger_agrees_with_the_reference_on_random_curves(trained):
    rng = np.random.default_rng(1)
    for _ in range(40):
        n = int(rng.integers(1, 4))
        values = list(np.cumsum(rng.normal(-0.2, 1.0, size=10)))
        assert run_trigger(trained, values, n) == reference_trigger(values, n)
        # "max" mode is the same rule on the negated scores.
        negated = [-value for value in values]
        assert run_trigger(trained, negated, n, "max") == reference_trigger(values, n)


def test_trigger_arguments_are_checked():
    with pytest.raises(ValueError, match="`interval`"):
        NonMonotonicTrigger(interval=0)
    with pytest.raises(ValueError, match="`mode`"):
        NonMonotonicTrigger(mode="lowest")
    with pytest.raises(ValueError, match="`averaged`"):
        make_optimizer("adam", averaged=True)


class StartAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.model.optimizer.start_averaging()


def test_validation_and_best_checkpoint_use_the_average(tmp_path):
    model = linear_model()
    raw, validated = [], []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: raw.append(model.get_weights()),
        on_epoch_end=lambda epoch, logs: validated.append(logs["val_loss"]),
    )
    # An interval the two epochs never reach: averaging starts by hand.
    callbacks = standard_callbacks(
        str(tmp_path), monitor="val_loss", nt_asgd=100, tensorboard=False
    )
    model.fit(
        X,
        Y,
        batch_size=8,
        epochs=2,
        shuffle=False,
        validation_data=(X, Y),
        callbacks=[StartAfterFirstEpoch(), *callbacks, record],
        verbose=0,
    )
    # Epoch 2's four steps are averaged; its validation scored their mean.
    kernel, bias = (np.mean([w[i] for w in raw[4:]], axis=0) for i in (0, 1))
    np.testing.assert_allclose(
        validated[1], np.mean((X @ kernel + bias - Y) ** 2), rtol=1e-5
    )
    assert validated[1] < validated[0]
    best = keras.saving.load_model(tmp_path / "best.keras")
    assert isinstance(best.optimizer, AveragedSGD)
    np.testing.assert_allclose(best.get_weights()[0], kernel, rtol=1e-6)
    np.testing.assert_allclose(model.get_weights()[0], kernel, rtol=1e-6)


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 3:
            raise RuntimeError("killed")


def averaged_run(run_dir, extra=()):
    """Five epochs whose scores start the averaging after the third."""
    model = linear_model()
    callbacks = standard_callbacks(
        str(run_dir), monitor="score", nt_asgd=1, tensorboard=False
    )
    model.fit(
        X,
        Y,
        batch_size=8,
        epochs=5,
        shuffle=False,
        callbacks=[Scripted([1.0, 2.0, 3.0, 4.0, 5.0]), *callbacks, *extra],
        verbose=0,
    )
    return model


def test_a_killed_run_resumes_with_the_same_average(tmp_path):
    whole = averaged_run(tmp_path / "whole")
    with pytest.raises(RuntimeError, match="killed"):
        averaged_run(tmp_path / "killed", [Interrupt()])
    resumed = averaged_run(tmp_path / "killed")
    # Killed with the average in the model: the resumed run must swap the raw
    # weights back in, and go on averaging from the restored start.
    for ours, theirs in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert int(resumed.optimizer.averaging_start.numpy()) == 12
