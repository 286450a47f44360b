"""Encoder-decoder translation models: Cho et al. (2014), Sutskever et al. (2014),
and the same with Bahdanau's additive attention.

`build_seq2seq` builds three functional models from one set of layers, so
they always share weights, and a fourth to read the attention:

    training   (source_ids, target_in_ids) -> logits       teacher forcing
    encoder    source_ids -> (outputs, context, *states)
    decoder    (target_ids, outputs, source_mask, context, *states)
               -> (logits, *states)                         one step or many
    alignment  (source_ids, target_in_ids) -> weights      attention models only:
               a_ts (batch, T, S), columns in source_ids' order

The decoder model is what `garden.decoding.beam_search` steps, eagerly, in a
`tf.function` and inside an exported SavedModel. Ids are right-padded with 0
(`<pad>`); masks are computed from the ids, never from Keras's implicit
masks, so the same graph serves every entry point.

    encoder:    h^(l)_s = f_l(h^(l-1)_s, h^(l)_{s-1})       over x_1 .. x_m <eos>
                c = h^(L)_m   (the top layer's last valid state: the context)
    decoder:    s_0 = the encoder's final states (every layer)
                s_t = g(s_{t-1}, [embed(y_{t-1}); c])       c fed at every step
    no attention:    o_t = s^(L)_t
    attention:       a_t = AdditiveAttention(s^(L)_t, h^(L)_1..m)
                     o_t = tanh(W_o [s^(L)_t; a_t])
    logits_t = dropout(o_t) W_y + b_y                      float32

The attention model follows Luong et al. (2015) and TensorFlow's own
translation tutorial in where the attention sits (queried by the decoder's
new state, its context combined with that state before the output layer),
which lets training run the decoder over the whole target in one recurrent
layer call; the score is Bahdanau's additive one.
"""

import collections

import keras
from keras import ops

from garden.decoding.beam_search import beam_search, tile_beams
from garden.layers import DeepRNN, ReverseValidSteps
from garden.layers.attention import AdditiveAttention
from garden.layers.reversal import reversal_index
from garden.training.metrics import Perplexity, masked_cross_entropy
from garden.training.precision import float32_copy

Seq2Seq = collections.namedtuple(
    "Seq2Seq", ["training", "encoder", "decoder", "alignment"], defaults=(None,)
)


def _ids(name):
    return keras.Input((None,), dtype="int32", name=name)


class _Seq2SeqParts:
    """The layers the three models share, made once, and the two passes.

    `encode` reads the source ids; `decode` reads target ids given the
    encoder's outputs, mask, context and states. The training, encoder and
    decoder models call them on their own inputs, so they share weights.
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        cell,
        units,
        num_layers,
        embedding_dim,
        attention,
        dropout,
        reverse_source,
    ):
        self.num_layers = num_layers
        self.attention = attention
        self.reverse_source = reverse_source
        self.source_embedding = keras.layers.Embedding(
            source_vocab_size, embedding_dim, name="source_embedding"
        )
        self.target_embedding = keras.layers.Embedding(
            target_vocab_size, embedding_dim, name="target_embedding"
        )
        recurrent = dict(
            units=units,
            num_layers=num_layers,
            cell=cell,
            dropout=dropout,
            return_sequences=True,
            return_state=True,
        )
        self.encoder_rnn = DeepRNN(**recurrent, name="encoder")
        self.decoder_rnn = DeepRNN(**recurrent, name="decoder")
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        self.output_dropout = keras.layers.Dropout(dropout, name="output_dropout")
        self.logits_layer = keras.layers.Dense(
            target_vocab_size, dtype="float32", name="logits"
        )
        if attention:
            # The weights also come out, unused by training, for `alignment`.
            self.attention_layer = AdditiveAttention(
                units, return_attention_scores=True, name="attention"
            )
            self.combine = keras.layers.Dense(
                units, activation="tanh", name="attentional"
            )

    def encode(self, source_ids):
        ids = source_ids
        if self.reverse_source:
            ids = ReverseValidSteps(name="reverse")(source_ids)
        mask = ops.not_equal(ids, 0)
        x = self.embedding_dropout(self.source_embedding(ids))
        outputs, *states = self.encoder_rnn(x, mask=mask)
        context = states[(self.num_layers - 1) * self.encoder_rnn.states_per_layer]
        return outputs, mask, context, states

    def decode(self, target_ids, outputs, source_mask, context, states):
        x = self.target_embedding(target_ids)
        x = ops.concatenate([x, ops.ones_like(x[..., :1]) * context[:, None, :]], -1)
        x = self.embedding_dropout(x)
        hidden, *states = self.decoder_rnn(
            x, initial_state=states, mask=ops.not_equal(target_ids, 0)
        )
        weights = None
        if self.attention:
            attended, weights = self.attention_layer(hidden, outputs, mask=source_mask)
            hidden = self.combine(ops.concatenate([hidden, attended], axis=-1))
        return self.logits_layer(self.output_dropout(hidden)), states, weights


def build_seq2seq(
    source_vocab_size,
    target_vocab_size,
    cell="gru",
    units=256,
    num_layers=2,
    embedding_dim=256,
    attention=True,
    dropout=0.2,
    reverse_source=False,
    name="seq2seq",
):
    """An encoder-decoder as three weight-sharing models (see the module doc).

    Args:
        source_vocab_size: Number of source token ids.
        target_vocab_size: Number of target token ids.
        cell: "gru" (Cho et al.) or "lstm" (Sutskever et al.), or "rnn".
        units: Hidden size of every recurrent layer (encoder and decoder).
        num_layers: Recurrent layers in the encoder and in the decoder.
        embedding_dim: Width of both embeddings.
        attention: Add additive attention over the encoder outputs.
        dropout: Dropout on embeddings, between layers and before the output.
        reverse_source: Read the source backwards (Sutskever et al.).
        name: Name of the training model.

    Returns:
        A `Seq2Seq(training, encoder, decoder, alignment)` of `keras.Model`s;
        `alignment` is None without attention.

    Example:

    >>> import numpy as np
    >>> models = build_seq2seq(20, 30, units=8, embedding_dim=6)
    >>> source = np.array([[5, 6, 3, 0]], "int32")
    >>> target = np.array([[2, 7, 8]], "int32")
    >>> tuple(models.training((source, target)).shape)
    (1, 3, 30)
    """
    parts = _Seq2SeqParts(
        source_vocab_size,
        target_vocab_size,
        cell,
        units,
        num_layers,
        embedding_dim,
        attention,
        dropout,
        reverse_source,
    )
    source_ids, target_ids = _ids("source_ids"), _ids("target_ids")
    outputs, source_mask, context, states = parts.encode(source_ids)
    logits, _, weights = parts.decode(target_ids, outputs, source_mask, context, states)
    training = keras.Model((source_ids, target_ids), logits, name=name)
    alignment = None
    if attention:
        alignment = _alignment_model(
            source_ids, target_ids, weights, reverse_source, name
        )
    # The mask leaves as `source_mask`, not attached to the outputs as a Keras
    # mask: the decoder, which takes both, would warn that it drops it.
    encoder = keras.Model(
        source_ids,
        [ops.copy(outputs), source_mask, context, *states],
        name=f"{name}_encoder",
    )
    decoder = _decoder_model(
        parts.decode, units, num_layers * parts.encoder_rnn.states_per_layer, name
    )
    return Seq2Seq(training, encoder, decoder, alignment)


def _alignment_model(source_ids, target_ids, weights, reverse_source, name):
    """The model from the ids to the attention weights, columns in source order."""
    if reverse_source:
        # The encoder read the source backwards: columns back in order.
        index = ops.expand_dims(reversal_index(source_ids), 1)
        index = index + ops.zeros_like(weights, dtype="int32")
        weights = ops.take_along_axis(weights, index, axis=2)
    return keras.Model((source_ids, target_ids), weights, name=f"{name}_alignment")


def _decoder_model(decode, units, num_states, name):
    """The decoder as its own model: `decode` on fresh inputs for every part."""
    step_ids = _ids("target_ids")
    step_outputs = keras.Input((None, units), name="encoder_outputs")
    step_mask = keras.Input((None,), dtype="bool", name="source_mask")
    step_context = keras.Input((units,), name="context")
    step_states = [
        keras.Input((units,), name=f"state_{index}") for index in range(num_states)
    ]
    step_logits, new_states, _ = decode(
        step_ids, step_outputs, step_mask, step_context, step_states
    )
    return keras.Model(
        [step_ids, step_outputs, step_mask, step_context, *step_states],
        [step_logits, *new_states],
        name=f"{name}_decoder",
    )


def compile_seq2seq(model, optimizer):
    """Masked cross-entropy (padding excluded) and perplexity."""
    model.compile(
        optimizer=optimizer, loss=masked_cross_entropy(0), metrics=[Perplexity(0)]
    )
    return model


def float32_seq2seq(config, weights):
    """The float32 twin of a trained model's three parts (for decoding, export).

    Args:
        config: The `build_seq2seq` arguments of the trained model.
        weights: Its training model's `get_weights()`.
    """
    return float32_copy(
        build_seq2seq, config, weights, weights_into=lambda models: models.training
    )


def translate_ids(
    models,
    source_ids,
    beam_width=4,
    max_length=50,
    length_penalty=1.0,
    bos_id=2,
    eos_id=3,
):
    """Beam-search translations of a batch of right-padded source ids.

    Graph-compatible (the exported model calls it): `beam_width`,
    `max_length` and `length_penalty` may be scalar tensors.

    Args:
        models: A `Seq2Seq` (usually `float32_seq2seq`'s).
        source_ids: int32 `(batch, steps)`, each row ending with `<eos>`.
        beam_width: 1 for greedy decoding.
        max_length: Most target tokens, `<eos>` included.
        length_penalty: `alpha` of `garden.decoding.beam_search`.
        bos_id, eos_id: The target vocabulary's `<bos>` and `<eos>`.

    Returns:
        `(target_ids, lengths)`: int32 `(batch, max_length)` right-padded with
        0, and `(batch,)`. `<pad>` and `<bos>` are never generated.
    """
    outputs, mask, context, *states = models.encoder(source_ids, training=False)
    outputs, mask, context = (
        tile_beams(x, beam_width) for x in (outputs, mask, context)
    )
    states = [tile_beams(state, beam_width) for state in states]

    def step(ids, step_states):
        logits, *new_states = models.decoder(
            [ids, outputs, mask, context, *step_states], training=False
        )
        return logits, new_states

    ids, lengths, _ = beam_search(
        step,
        states,
        ops.shape(source_ids)[0],
        bos_id,
        eos_id,
        beam_width=beam_width,
        max_length=max_length,
        length_penalty=length_penalty,
        banned_ids=(bos_id,),
    )
    return ids, lengths
