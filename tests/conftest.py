"""Settings every test shares: quiet TensorFlow, a fixed seed, a clean policy.

The layer and decoding tests also run on the JAX and PyTorch backends
(`KERAS_BACKEND=jax` or `torch`, set before Keras is imported); a test that needs
TensorFlow itself (tf.function, tf.data, SavedModel, ...) is marked
`tensorflow_only` and skipped there.
"""

import functools
import gc
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

# Every test starts from this seed. Another (GARDEN_TEST_SEED=7 make test)
# shows which tests pass only by luck: a test must hold for any seed.
SEED = int(os.environ.get("GARDEN_TEST_SEED", "1234"))


@functools.cache
def _keras():
    """Keras, imported when a test process first needs it: pytest-xdist's
    controller, which only hands out tests, never loads it (7 s of CPU)."""
    import keras

    return keras


def _backend():
    return _keras().backend.backend()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "tensorflow_only(reason): needs TensorFlow itself, not only keras.ops; "
        "skipped on the other Keras backends",
    )
    # pytest-xdist's mark, known also where it is not loaded (`-p no:xdist`).
    config.addinivalue_line(
        "markers", "xdist_group(name): tests run on one pytest-xdist worker"
    )


def pytest_collection_finish(session):
    """Leaves what collection loaded (TensorFlow, Keras, the garden: about
    400,000 objects) out of every later garbage collection.

    `keras.backend.clear_session()`, which recipes, tuners and tests call
    before each model, runs a full collection; walking those objects took
    0.2 s of each (the sentiment flag tests: 77 s, 69 s with them left out).
    They live as long as the worker.
    """
    gc.freeze()


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_xdist_node_collection_finished(node, ids):
    """Stops the run where the tests of a group reach the scheduler unmarked.

    pytest-xdist tells its scheduler a test's `xdist_group` by adding
    `@group` to the test's id; where pytest ignores that (pytest 9.2 with
    pytest-xdist 3.8), each test of a group went to any worker, silently.
    """
    if node.config.getvalue("dist") != "loadgroup":
        return
    for nodeid in ids:
        if nodeid.startswith(tuple(SHARED_FIXTURES)) and "@" not in nodeid:
            raise pytest.UsageError(
                f"{nodeid} reached the scheduler without its xdist_group, so "
                "`--dist loadgroup` would ignore the groups: install the pytest "
                "the project pins (pytest-dev/pytest-xdist#1386)."
            )


# Modules whose tests take tens of seconds (whole recipe runs, fresh
# processes), run first: the workers then end on short tests and finish
# together, instead of one waiting while the other runs a long one.
LONG_FIRST = (
    "tests/training/test_distribute.py",
    "tests/tuning/test_distributed_search.py",
    "tests/training/test_sampled_softmax.py",
    "tests/recipes/test_",
    "tests/export/",
)


def _long_first(item):
    path = item.nodeid.split("::")[0]
    if path == "tests/recipes/test_every_flag.py":  # many short runs
        return len(LONG_FIRST)
    return next(
        (rank for rank, prefix in enumerate(LONG_FIRST) if path.startswith(prefix)),
        len(LONG_FIRST) + 1,
    )


# Tests that share a costly module or session fixture (exports made by
# training, trained word vectors): under `--dist loadgroup`, one worker runs
# them all and makes the fixture once, where each worker made its own.
SHARED_FIXTURES = {
    "tests/export/": "exports",
    "tests/recipes/test_word_vectors.py": "word-vectors",
}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    items.sort(key=_long_first)
    for item in items:
        for prefix, group in SHARED_FIXTURES.items():
            if item.nodeid.startswith(prefix):
                item.add_marker(pytest.mark.xdist_group(group))
    backend = _backend()
    if backend == "tensorflow":
        return
    for item in items:
        marker = item.get_closest_marker("tensorflow_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args or [""])[0]
            item.add_marker(
                pytest.mark.skip(reason=f"TensorFlow only ({backend}): {reason}")
            )


@functools.cache
def _read_text(path, member, mtime_ns, size):
    return _UNCACHED_OPEN_TEXT[0](path, member)


def _cached_open_text(path, member=None):
    # Keyed by the file's identity: a test that rewrites or corrupts a file
    # reads it again. Decompressing GloVe (68 MB) took 3 s a run.
    status = os.stat(path)
    return _read_text(
        os.path.realpath(path), member, status.st_mtime_ns, status.st_size
    )


_UNCACHED_OPEN_TEXT = []


@pytest.fixture(autouse=True)
def _read_each_text_once(monkeypatch):
    """`sources.open_text` decompresses a corpus file once per worker.

    Only under TensorFlow: the data package imports it.
    """
    if _backend() == "tensorflow":
        from garden.data import sources

        if not _UNCACHED_OPEN_TEXT:
            _UNCACHED_OPEN_TEXT.append(sources.open_text)
        monkeypatch.setattr(sources, "open_text", _cached_open_text)


@pytest.fixture(autouse=True)
def _no_autograd_on_torch(monkeypatch):
    """On PyTorch, layer outputs read as NumPy arrays: no autograd records them.

    It records where gradients are asked for: in `Model.fit` and in
    `tests.backends.value_and_gradients`.
    """
    if _backend() != "torch":
        yield
        return
    import torch

    keras = _keras()
    fit = keras.Model.fit

    def fit_with_autograd(self, *args, **kwargs):
        with torch.enable_grad():
            return fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit_with_autograd)
    with torch.no_grad():
        yield


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts in float32 with seeded randomness, whatever the last did."""
    keras = _keras()
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(SEED)
    yield
    keras.config.set_dtype_policy("float32")
