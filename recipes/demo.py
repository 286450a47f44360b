"""Demo: a garden LSTM learns The Time Machine, character by character.

The short job that shows the garden works end to end on a real corpus: the
text from `$GARDEN_DATA` (or a path, or a checked download), a character
vocabulary, random (X, Y) minibatches of 32 steps, an Embedding -> garden
LSTM -> Dense language model trained with Adam and gradient clipping. It
prints the training loss and validation perplexity per epoch (both fall),
then a sample continuation of a prompt.

    GARDEN_DATA=../shared/data python -m recipes.demo            # ~2 minutes, CPU
    python -m recipes.demo --epochs 2
"""

import math

import keras
import numpy as np

from garden import data
from garden.data.splits import split_time_machine
from garden.layers import LSTM
from recipes.flags.demo import parse_args


def build_model(vocab_size, embedding_dim, units):
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, embedding_dim)(tokens)
    x = LSTM(units, return_sequences=True)(x)
    logits = keras.layers.Dense(vocab_size, dtype="float32")(x)
    model = keras.Model(tokens, logits, name="time_machine_char_lstm")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-3, global_clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def greedy_continuation(model, tokenizer, vocabulary, prompt, length):
    ids = data.encode_texts([prompt], tokenizer, vocabulary)[0].tolist()
    for _ in range(length):
        logits = model.predict(np.array([ids], "int32"), verbose=0)
        ids.append(int(np.argmax(logits[0, -1])))
    return "".join(vocabulary.decode(ids))


def main(argv=None):
    run(parse_args(argv))


def run(args):
    keras.utils.set_random_seed(0)
    text = data.load_time_machine(path=args.data)
    tokenizer = data.CharacterTokenizer()
    splits = split_time_machine(text)
    train_text, valid_text = splits["train"], splits["valid"]
    vocabulary = data.Vocabulary(tokenizer.tokenize(train_text))
    streams = data.token_streams(
        {"train": [train_text], "valid": [valid_text]}, tokenizer, vocabulary
    )
    train_ids, valid_ids = streams["train"], streams["valid"]
    print(
        f"The Time Machine: {len(train_ids):,} training and {len(valid_ids):,} "
        f"validation characters, vocabulary of {len(vocabulary)}."
    )
    train = data.language_model_dataset(
        train_ids, args.batch_size, args.num_steps, partition="random", seed=0
    )
    valid = data.language_model_dataset(
        valid_ids, args.batch_size, args.num_steps, partition="sequential", seed=0
    )

    model = build_model(len(vocabulary), 32, args.units)
    history = model.fit(
        train,
        epochs=args.epochs,
        validation_data=valid,
        shuffle=False,  # the dataset shuffles itself
        verbose=2,
    )
    print("\nepoch  train loss  validation perplexity")
    for epoch, (loss, valid_loss) in enumerate(
        zip(history.history["loss"], history.history["val_loss"]), start=1
    ):
        print(f"{epoch:5d}  {loss:10.3f}  {math.exp(valid_loss):21.2f}")
    prompt = "the time traveller "
    sample = greedy_continuation(model, tokenizer, vocabulary, prompt, 60)
    print(f"\nGreedy continuation of {prompt!r}:\n{sample}")


if __name__ == "__main__":
    main()
