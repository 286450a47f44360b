"""Zero initial states sized to a batch, for a model that starts from them."""

import keras

from garden.checks import check_positive_integer


@keras.saving.register_keras_serializable(package="garden")
class ZeroStates(keras.layers.Layer):
    """Zero states `(batch, size)`, one per size, for the batch of `inputs`.

    Lets a functional model feed a state-in/state-out network (a language
    model's generator) from its first step without state inputs of its own.

    Args:
        sizes: The state sizes, positive integers.

    Call arguments:
        inputs: Any tensor whose first axis is the batch.

    Returns:
        A list of float tensors `(batch, size)`, zeros.
    """

    def __init__(self, sizes, **kwargs):
        super().__init__(**kwargs)
        for size in sizes:
            check_positive_integer("sizes", size)
        self.sizes = [int(size) for size in sizes]
        self.built = True

    def call(self, inputs):
        batch = keras.ops.shape(inputs)[0]
        return [
            keras.ops.zeros((batch, size), self.compute_dtype) for size in self.sizes
        ]

    def compute_output_spec(self, inputs):
        return [
            keras.KerasTensor((inputs.shape[0], size), self.compute_dtype)
            for size in self.sizes
        ]

    def get_config(self):
        return {**super().get_config(), "sizes": list(self.sizes)}
