"""A learned, softmax-weighted mix of the layers of a pretrained network (ELMo)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="garden")
class ScalarMix(keras.layers.Layer):
    """ELMo's task-specific combination of a biLM's layers (Peters et al., 2018).

        ELMo_t = gamma * sum_j softmax(s)_j h_{t,j}         j = 0 .. L

    `h_{t,j}` is layer j's representation of token t (layer 0 the token
    embedding, layers 1 .. L the recurrent layers), `s` one scalar per layer
    and `gamma` one scale, both learned by the downstream task while the
    layers themselves stay frozen. `s` starts at 0 (an equal mix) and `gamma`
    at 1.

    Args:
        num_layers: Positive integer, the number L + 1 of mixed layers.
        initial_scalar_parameters: Optional list of `num_layers` starting
            values of `s`. Default zeros.
        initial_gamma: Starting value of `gamma`. Default 1.
        **kwargs: The base layer's arguments; `trainable=False` fixes the
            mix at its starting values.

    Call arguments:
        inputs: A list of `num_layers` tensors of the same shape, e.g.
            `(batch, timesteps, features)`.
        mask: Masks of the inputs; the first one is passed on.

    Returns:
        The mix, of the inputs' shape.

    Example:

    >>> import numpy as np
    >>> mix = ScalarMix(2, initial_gamma=2.0)
    >>> mix([np.ones((1, 3), "float32"), np.zeros((1, 3), "float32")]).numpy()
    array([[1., 1., 1.]], dtype=float32)
    """

    def __init__(
        self,
        num_layers,
        initial_scalar_parameters=None,
        initial_gamma=1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (
            isinstance(num_layers, bool)
            or not isinstance(num_layers, int)
            or (num_layers < 1)
        ):
            raise ValueError(
                "Received an invalid value for argument `num_layers`, expected a "
                f"positive integer, got {num_layers!r}."
            )
        if initial_scalar_parameters is None:
            initial_scalar_parameters = [0.0] * num_layers
        initial_scalar_parameters = [float(s) for s in initial_scalar_parameters]
        if len(initial_scalar_parameters) != num_layers:
            raise ValueError(
                "Received an invalid value for argument `initial_scalar_parameters`, "
                f"expected {num_layers} values (one per layer), got "
                f"{len(initial_scalar_parameters)}."
            )
        self.num_layers = num_layers
        self.initial_scalar_parameters = initial_scalar_parameters
        self.initial_gamma = float(initial_gamma)
        self.supports_masking = True

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not all(
            isinstance(shape, (list, tuple)) for shape in input_shape
        ):
            raise ValueError(
                f"Layer `{self.name}` expects a list of {self.num_layers} tensors, "
                f"got a single input of shape {tuple(input_shape)}."
            )
        if len(input_shape) != self.num_layers:
            raise ValueError(
                f"Layer `{self.name}` expects a list of {self.num_layers} tensors "
                f"(`num_layers`), got {len(input_shape)}."
            )
        self.scalar_parameters = self.add_weight(
            shape=(self.num_layers,),
            initializer=keras.initializers.Constant(self.initial_scalar_parameters),
            name="scalar_parameters",
        )
        self.gamma = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_gamma),
            name="gamma",
        )

    def call(self, inputs, mask=None):
        s = ops.softmax(ops.cast(self.scalar_parameters, self.compute_dtype))
        mixed = sum(
            s[j] * ops.cast(h, self.compute_dtype) for j, h in enumerate(inputs)
        )
        return ops.cast(self.gamma, self.compute_dtype) * mixed

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            return mask[0]
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = {
            "num_layers": self.num_layers,
            "initial_scalar_parameters": self.initial_scalar_parameters,
            "initial_gamma": self.initial_gamma,
        }
        return {**super().get_config(), **config}
