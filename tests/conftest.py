"""Settings every test shares: quiet TensorFlow, a fixed seed, a clean policy.

The layer and decoding tests also run on the JAX backend
(`KERAS_BACKEND=jax`, set before Keras is imported); a test that needs
TensorFlow itself (tf.function, tf.data, SavedModel, ...) is marked
`tensorflow_only` and skipped there.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

# Every test starts from this seed. Another (GARDEN_TEST_SEED=7 make test)
# shows which tests pass only by luck: a test must hold for any seed.
SEED = int(os.environ.get("GARDEN_TEST_SEED", "1234"))

BACKEND = keras.backend.backend()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "tensorflow_only(reason): needs TensorFlow itself, not only keras.ops; "
        "skipped on the other Keras backends",
    )


def pytest_collection_modifyitems(config, items):
    if BACKEND == "tensorflow":
        return
    for item in items:
        marker = item.get_closest_marker("tensorflow_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args or [""])[0]
            item.add_marker(
                pytest.mark.skip(reason=f"TensorFlow only ({BACKEND}): {reason}")
            )


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts in float32 with seeded randomness, whatever the last did."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(SEED)
    yield
    keras.config.set_dtype_policy("float32")
