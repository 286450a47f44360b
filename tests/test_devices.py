import keras

from garden.devices import visible_gpus
from garden.training import resolve_precision


def test_no_gpu_on_this_cpu():
    assert visible_gpus() == keras.distribution.list_devices("gpu") == []


def test_no_gpu_when_the_backend_has_no_gpu_platform(monkeypatch):
    # JAX raises RuntimeError from `jax.devices("gpu")` on a CPU-only install.
    def no_gpu_platform(device_type):
        raise RuntimeError(f"Unknown backend: '{device_type}' requested")

    monkeypatch.setattr(keras.distribution, "list_devices", no_gpu_platform)
    assert visible_gpus() == []
    assert resolve_precision("auto") == "float32"
