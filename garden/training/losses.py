"""Losses the garden's models train with beyond Keras's own."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="garden")
class NegativeSamplingLoss(keras.losses.Loss):
    """The logistic loss summed over a pair's context and noise words.

    Labels are 1 for the context word and 0 for the K noise words; the
    default reduction sums over the batch, so that a batch of pairs is one
    SGD step on their summed loss (see `garden.models.word2vec`).
    """

    def __init__(self, reduction="sum", name="negative_sampling", **kwargs):
        super().__init__(reduction=reduction, name=name, **kwargs)

    def call(self, labels, logits):
        losses = ops.binary_crossentropy(labels, logits, from_logits=True)
        return ops.sum(losses, axis=-1)
