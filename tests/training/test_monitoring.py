"""The monitored value: read from the logs, or a warning that names what is lost."""

import keras
import numpy as np
import pytest

from garden.training.averaging import AveragedSGD, NonMonotonicTrigger
from garden.training.callbacks import BestCheckpoint
from garden.training.monitoring import monitored_value


def test_a_logged_value_is_read_as_a_float():
    assert monitored_value({"val_loss": np.float32(0.25)}, "val_loss", 0, "x") == 0.25


@pytest.mark.parametrize("logs", [None, {"loss": 1.0}])
def test_a_missing_value_warns_with_the_epoch_and_the_logs(logs):
    got = sorted(logs or {})
    with pytest.warns(UserWarning) as record:
        assert monitored_value(logs, "val_loss", 2, "nothing done") is None
    assert str(record[0].message) == (
        f"No `val_loss` in the logs of epoch 3 (got {got}): nothing done."
    )


def test_both_callbacks_skip_an_epoch_without_their_quantity(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=AveragedSGD(0.1), loss="mse")
    checkpoint = BestCheckpoint(str(tmp_path / "best.keras"))
    trigger = NonMonotonicTrigger(interval=1)
    for callback in (checkpoint, trigger):
        callback.set_model(model)
    with pytest.warns(UserWarning, match="no checkpoint saved"):
        checkpoint.on_epoch_end(0, {"loss": 1.0})
    with pytest.warns(UserWarning, match="the averaging trigger skips it"):
        trigger.on_epoch_end(0, {"loss": 1.0})
    assert checkpoint.best is None and not (tmp_path / "best.keras").exists()
    assert trigger.values == []
