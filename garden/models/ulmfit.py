"""ULMFiT's classifier (Howard and Ruder, 2018) on the garden's biLM.

    x_t      = E[id_map[w_t]]                     the biLM's embedding
    ->h_t    = the biLM's forward layers over x_1 .. x_t      (fine-tuned)
    <-h_t    = its backward layers over x_n .. x_t            (fine-tuned)
    z        = [pool(->h); pool(<-h)]      pool(H) = [H_T; max_t H_t; mean_t H_t]
    p        = sigmoid(w2 relu(W1 BN(z) + b1) + b2)     (BN, dropout between)

The language model is not a feature extractor here (as with ELMo,
`garden.models.bilm.with_elmo`) but the classifier's encoder, and all of it
is trained on the task. ULMFiT fine-tunes a forward and a backward AWD-LSTM
classifier and averages their predictions; here one model holds both
directions of the biLM (`recipes.bilm`, trained on the task's training
reviews, as ULMFiT's target-task language-model fine-tuning), and its
concat pooling reads each direction's top layer in that direction's reading
order, so the last step pooled is, for both, the one that has read the
whole review. Its layer groups (`ulmfit_groups`: embedding, each LSTM layer
with its projection, the head) are what discriminative learning rates and
gradual unfreezing act on (`garden.training.finetuning`).
"""

import keras

from garden.layers import LSTM, ConcatPooling, ReverseSequence, VocabularyMap
from garden.models.bilm import DIRECTIONS, bilm_depth

HEAD = "head"


def _encoder_layers(bilm, weight_dropout):
    """Fresh copies of the biLM's layers with its trained weights, by name.

    The LSTMs are copied with `weight_dropout` (DropConnect on W_hh), the
    rest as they are.
    """

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, LSTM):
            config["weight_dropout"] = weight_dropout
        return layer.__class__.from_config(config)

    encoder = keras.models.clone_model(bilm, clone_function=clone)
    encoder.set_weights(bilm.get_weights())
    return {layer.name: layer for layer in encoder.layers}


def build_ulmfit_classifier(
    bilm,
    bilm_ids,
    dropout=0.3,
    weight_dropout=0.0,
    head_units=50,
    name="ulmfit_classifier",
):
    """The ULMFiT classifier over a trained biLM (see the module docstring).

    Args:
        bilm: A model from `garden.models.bilm.build_bilm`, trained; its
            weights are copied, the model itself is left as it is.
        bilm_ids: The biLM id of every downstream id
            (`garden.models.bilm.map_vocabulary`).
        dropout: Rate on the embedding, after every layer, and in the head
            (on its input and on its hidden layer).
        weight_dropout: DropConnect rate on every LSTM's hidden-to-hidden
            weights (Merity et al.'s WeightDrop, which ULMFiT's AWD-LSTM
            classifier keeps in fine-tuning); 0 in inference.
        head_units: Width of the head's hidden layer (ULMFiT: 50).
        name: Model name.

    Returns:
        A `keras.Model` from downstream ids `(batch, steps)`, right-padded
        with 0, to float32 P(positive) `(batch, 1)`.

    Example:

    >>> import numpy as np
    >>> from garden.models.bilm import build_bilm
    >>> bilm = build_bilm(["<pad>", "<unk>", "a", "b"], 4, 8)
    >>> model = build_ulmfit_classifier(bilm, np.array([0, 1, 2, 3, 1]))
    >>> tuple(model(np.array([[2, 4, 0]], "int32")).shape)
    (1, 1)
    """
    layers = _encoder_layers(bilm, weight_dropout)
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    mapped = VocabularyMap(bilm_ids, name="bilm_ids")(ids)
    mask = keras.ops.not_equal(mapped, 0)
    x = layers["embedding"](mapped)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    pooled = []
    for direction in DIRECTIONS:
        # As in the biLM: the backward layers read each row from its end, and
        # their states are pooled in that order (padding stays at the end).
        h = x if direction == "forward" else ReverseSequence(name="reverse")(x, mapped)
        for j in range(1, bilm_depth(bilm) + 1):
            s = layers[f"{direction}_lstm_{j}"](h)
            s = layers[f"{direction}_projection_{j}"](s)
            if j > 1:
                s = keras.layers.Add(name=f"{direction}_layer_{j}")([s, h])
            h = keras.layers.Dropout(dropout, name=f"{direction}_dropout_{j}")(s)
        pooled.append(ConcatPooling(name=f"{direction}_pooling")(h, mask=mask))
    z = keras.layers.Concatenate(name="pooled")(pooled)
    z = keras.layers.BatchNormalization(name=f"{HEAD}_norm_1")(z)
    z = keras.layers.Dropout(dropout, name=f"{HEAD}_dropout_1")(z)
    z = keras.layers.Dense(head_units, activation="relu", name=f"{HEAD}_hidden")(z)
    z = keras.layers.BatchNormalization(name=f"{HEAD}_norm_2")(z)
    z = keras.layers.Dropout(dropout, name=f"{HEAD}_dropout_2")(z)
    # The one float32 island: the sigmoid output and so the loss.
    p = keras.layers.Dense(
        1, activation="sigmoid", dtype="float32", name="probability"
    )(z)
    return keras.Model(ids, p, name=name)


def ulmfit_groups(model):
    """The layer groups of a `build_ulmfit_classifier` model, bottom first.

    The embedding; then each depth j of the biLM (both directions' LSTM and
    projection); then the head, every other layer with trainable weights.
    These are the groups of `garden.training.finetuning.LayerwiseAdam`.
    """
    depth = bilm_depth(model)
    encoder = [["embedding"]] + [
        [f"{d}_{part}_{j}" for d in DIRECTIONS for part in ("lstm", "projection")]
        for j in range(1, depth + 1)
    ]
    taken = {name for group in encoder for name in group}
    head = [
        layer.name
        for layer in model.layers
        if layer.trainable_weights and layer.name not in taken
    ]
    return encoder + [head]
