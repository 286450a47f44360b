"""A sampled softmax, to train language models whose softmax is most of a step.

With a tied softmax the logit of word w is z_w = h . e_w (e_w its embedding
row). The full loss, -z_y + log sum_{w in V} exp(z_w), costs |V| dot products
per token. The sampled softmax (Bengio and Senecal 2008; Jean et al. 2015)
draws S words s_1 .. s_S from a proposal Q once per batch, shared by all
tokens, and uses

    loss = -z'_y + log( exp(z'_y) + sum_k exp(z'_{s_k}) )
    z'_w = z_w - log(S Q(w))                       (the proposal's correction)

with every sample equal to the token's target left out (an "accidental
hit"), as TensorFlow's `sampled_softmax_loss` does. Q is log-uniform over
ids sorted most frequent first, as TensorFlow's `log_uniform_candidate_sampler`:

    Q(k) = log((k + 2) / (k + 1)) / log(V + 1)

Peters et al. (2018) trained the ELMo biLM this way. Written here because
Keras has none and `tf.nn.sampled_softmax_loss` is TensorFlow-only; these are
`keras.ops`. The S draws are made with replacement (TensorFlow's sampler
draws S distinct words by default), so S Q(w) is the expected count of w
among them and a frequent word may come several times: 1,024 draws over
10,000 words hold about 550 distinct ones. Padding (id 0) is drawn too, with
probability log 2 / log(V + 1); it is never a target, so those draws only
push its logit down.

`SampledSoftmaxModel` trains a tied-softmax model on it and evaluates it on
the full softmax, so validation loss and perplexity stay exact.
"""

import math

import keras
from keras import ops

# Logit of an accidental hit: exp() of it is 0 next to any real logit.
_MASKED = -1e9


def log_uniform_probability(ids, vocab_size):
    """Q(k) = log((k + 2) / (k + 1)) / log(V + 1), float32 of `ids`' shape."""
    k = ops.cast(ids, "float32")
    return ops.log((k + 2.0) / (k + 1.0)) / math.log(vocab_size + 1.0)


def log_uniform_sample(num_samples, vocab_size, seed=None):
    """`num_samples` int32 ids drawn from Q, with replacement (inverse CDF).

    The CDF of Q is log(k + 2) / log(V + 1) at k, so k = floor(exp(u log(V +
    1))) - 1 for u uniform in [0, 1).
    """
    u = keras.random.uniform((num_samples,), seed=seed)
    k = ops.floor(ops.exp(u * math.log(vocab_size + 1.0))) - 1.0
    return ops.cast(ops.clip(k, 0, vocab_size - 1), "int32")


def sampled_softmax_cross_entropy(hidden, targets, embeddings, sampled_ids):
    """Each token's sampled-softmax loss against the given samples.

    Args:
        hidden: `(..., d)` states fed to the tied softmax.
        targets: `(...)` int ids of the words to predict.
        embeddings: `(V, d)` the softmax's (tied) rows.
        sampled_ids: `(S,)` int ids drawn from Q, shared by all tokens.

    Returns:
        float32 `(...)` losses (padding is the caller's to mask).
    """
    vocab_size = ops.shape(embeddings)[0]
    hidden = ops.cast(hidden, "float32")
    embeddings = ops.cast(embeddings, "float32")
    targets = ops.cast(targets, "int32")
    true_logits = ops.sum(hidden * ops.take(embeddings, targets, axis=0), axis=-1)
    sampled_logits = ops.matmul(
        hidden, ops.transpose(ops.take(embeddings, sampled_ids, axis=0))
    )
    num_samples = ops.cast(ops.shape(sampled_ids)[0], "float32")
    true_logits -= ops.log(num_samples * log_uniform_probability(targets, vocab_size))
    sampled_logits -= ops.log(
        num_samples * log_uniform_probability(sampled_ids, vocab_size)
    )
    hits = ops.equal(targets[..., None], sampled_ids)
    sampled_logits = ops.where(hits, _MASKED, sampled_logits)
    logits = ops.concatenate([true_logits[..., None], sampled_logits], axis=-1)
    return ops.logsumexp(logits, axis=-1) - true_logits


class SampledSoftmaxLoss(keras.losses.Loss):
    """The sampled softmax as a Keras loss, averaged over non-padding tokens.

    `y_pred` are the states h fed to the softmax, not logits; samples are
    drawn anew at every call.

    Args:
        embeddings: The `(V, d)` variable of the tied softmax.
        num_samples: S, words drawn per batch.
        pad_id: Target id that does not count.
        seed: A `keras.random.SeedGenerator` (or int) for the draws.
    """

    def __init__(self, embeddings, num_samples, pad_id=0, seed=None, **kwargs):
        kwargs.setdefault("name", "sampled_softmax")
        super().__init__(**kwargs)
        self.embeddings = embeddings
        self.num_samples = int(num_samples)
        self.pad_id = pad_id
        self.seed = seed

    def call(self, y_true, y_pred):
        vocab_size = int(self.embeddings.shape[0])
        sampled = log_uniform_sample(self.num_samples, vocab_size, seed=self.seed)
        losses = sampled_softmax_cross_entropy(y_pred, y_true, self.embeddings, sampled)
        real = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        # Keras divides the sum by the number of tokens (and scales for the
        # replicas); rescaling makes that the mean over real tokens only.
        count = ops.cast(ops.size(real), "float32")
        return losses * real * count / ops.maximum(ops.sum(real), 1.0)


@keras.saving.register_keras_serializable(package="garden")
class SampledSoftmaxModel(keras.Model):
    """Trains a tied-softmax model on a sampled softmax, evaluates it in full.

    `model` is functional, its outputs a dict of full logits, each from
    `embedding(h, reverse=True)`; `states` names, per output, the layer whose
    output is that h. Training (`fit`) calls the model up to the states and
    takes `SampledSoftmaxLoss` against the embedding's rows; evaluation and
    prediction call the whole model with its compiled loss and metrics, so
    `val_` numbers are full-softmax ones. The weights are `model`'s: train
    the wrapper, then use or save `wrapper.model`.

    Args:
        model: The full model.
        states: Dict of output name -> layer name of its softmax input.
        embedding: Name of the tied `ReversibleEmbedding` layer.
        num_samples: S, words drawn per batch (shared by all its tokens).
        pad_id: Target id that does not count.
        seed: Seed of the draws. The draws' state is not saved, so a run
            resumed from a checkpoint draws the first epochs' samples again.
    """

    def __init__(
        self,
        model,
        states,
        embedding="embedding",
        num_samples=1024,
        pad_id=0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(model, dict):
            model = keras.saving.deserialize_keras_object(model)
        table = model.get_layer(embedding)
        if not getattr(table, "tie_weights", False):
            raise ValueError(
                f"Received a layer {embedding!r} whose output softmax is not tied "
                "to its embedding, expected a `ReversibleEmbedding` with "
                "`tie_weights=True`: the samples score the embedding's rows."
            )
        vocab_size = table.input_dim
        if not 0 < int(num_samples) < vocab_size:
            raise ValueError(
                "Received an invalid value for argument `num_samples`, expected "
                f"an integer in 1 .. {vocab_size - 1} (below the vocabulary "
                f"size), got {num_samples!r}."
            )
        self.model = model
        self.states = dict(states)
        self.embedding = embedding
        self.num_samples = int(num_samples)
        self.pad_id = pad_id
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.state_model = keras.Model(
            model.inputs,
            {
                name: model.get_layer(layer).output
                for name, layer in self.states.items()
            },
            name=f"{model.name}_states",
        )
        self.sampled_loss = SampledSoftmaxLoss(
            table.embeddings,
            self.num_samples,
            pad_id=pad_id,
            seed=self.seed_generator,
        )
        # Its weights are the built model's (`BackupAndRestore` needs it built).
        self.built = True

    def call(self, inputs, training=False):
        if training:
            states = self.state_model(inputs, training=True)
            return {f"{name}_states": h for name, h in states.items()}
        return self.model(inputs, training=False)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if not training:
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        losses = [
            self.sampled_loss(y[name], y_pred[f"{name}_states"], sample_weight)
            for name in self.states
        ]
        losses += [self._aggregate_additional_loss(loss) for loss in self.losses]
        return ops.sum(ops.stack(losses))

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if f"{next(iter(self.states))}_states" in y_pred:
            # Training: the compiled metrics read full logits, so only the
            # (sampled) loss is reported; evaluation reports them all.
            return {m.name: m.result() for m in self.metrics if m.name == "loss"}
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def get_config(self):
        return {
            **super().get_config(),
            "model": keras.saving.serialize_keras_object(self.model),
            "states": self.states,
            "embedding": self.embedding,
            "num_samples": self.num_samples,
            "pad_id": self.pad_id,
            "seed": self.seed,
        }
