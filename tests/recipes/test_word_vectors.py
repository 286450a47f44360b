"""The word-vectors recipe end to end on a corpus whose neighbours are known."""

import json

import numpy as np
import pytest

from garden.models.word2vec import WordVectors
from recipes import word_vectors as recipe
from tests.export.replay import assert_requests_replay
from tests.export.test_language_model import run_in_fresh_process
from tests.recipes.conftest import fix_search_space
from tests.training.test_plots import picture

FRUIT = ["apple", "banana", "cherry", "grape", "mango", "peach"]
VEHICLES = ["car", "truck", "bus", "train", "bike", "tram"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Sentences of words of one topic: a word's neighbours are its topic."""
    rng = np.random.default_rng(0)
    lines = [
        " ".join(rng.choice(FRUIT if i % 2 else VEHICLES, size=8)) for i in range(600)
    ]
    path = tmp_path_factory.mktemp("corpus") / "topics.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def train(corpus, root, model):
    run_dir = root / model
    flags = [
        "--corpus", "text", "--text-file", corpus, "--model", model,
        "--validation-size", "50", "--dim", "16", "--window", "2",
        "--sample", "0", "--epochs", "4", "--batch-size", "32",
        "--learning-rate", "0.01", "--verbose", "0",
        "--run-dir", str(run_dir), "--export", str(root / "exports"),
        "--model-name", model, "--probes", "apple", "apples", "",
    ]  # fmt: skip
    if model == "fasttext":
        flags += ["--buckets", "500"]
    recipe.main(flags)
    return run_dir


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return root, {model: train(corpus, root, model) for model in recipe.MODELS}


@pytest.mark.parametrize("model", recipe.MODELS)
def test_neighbours_are_the_words_topic(trained, model):
    _, runs = trained
    vectors = WordVectors.load_word2vec_format(runs[model] / "vectors.txt")
    assert sorted(vectors.words) == sorted(FRUIT + VEHICLES)
    for word in FRUIT + VEHICLES:
        topic = FRUIT if word in FRUIT else VEHICLES
        neighbours = [w for w, _ in vectors.most_similar(word, topn=5)]
        assert set(neighbours) == set(topic) - {word}, (word, neighbours)


def test_export_agrees_in_a_fresh_process_unseen_words_included(trained):
    root, runs = trained
    path = root / "exports" / "fasttext" / "1"
    assert_requests_replay(
        str(path), "fasttext", [("serving_default", {"word": ["apple", "apples", ""]})]
    )
    served = run_in_fresh_process(
        f"""
        import json, tensorflow as tf
        model = tf.saved_model.load({str(path)!r})
        words = tf.constant(["apple", "APPLE", "apples", "", "zzz" * 3000])
        out = model.signatures["serving_default"](word=words)
        print(json.dumps({{k: v.numpy().tolist() for k, v in out.items()}}))
        """
    )
    assert served["known"] == [True, True, False, False, False]
    vectors = np.asarray(served["vector"])
    from_keras = WordVectors.load_word2vec_format(runs["fasttext"] / "vectors.txt")
    np.testing.assert_allclose(vectors[0], from_keras.vector("apple"), atol=1e-5)
    np.testing.assert_allclose(vectors[1], vectors[0])
    assert not vectors[3].any()  # no n-grams: zeros
    assert np.isfinite(vectors[4]).all() and vectors[4].any()
    # "apples" is unseen; its n-grams make it an apple.
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    assert unit[2] @ unit[0] > 0.5
    skipgram = root / "exports" / "skipgram" / "1"
    served = run_in_fresh_process(
        f"""
        import json, tensorflow as tf
        model = tf.saved_model.load({str(skipgram)!r})
        out = model.signatures["serving_default"](word=tf.constant(["bus", "buses"]))
        print(json.dumps({{k: v.numpy().tolist() for k, v in out.items()}}))
        """
    )
    assert served["known"] == [True, False] and not any(served["vector"][1])


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--optimizer", "adam"], "--optimizer"),
        (["--min-n", "5", "--max-n", "3"], "--min-n"),
        (["--sample", "1.5"], "--sample"),
        (["--corpus", "text"], "--text-file"),
        (["--corpus", "text", "--text-file", "/nonexistent/file.txt"], "not a file"),
        (["--text-file", "x.txt"], "--text-file"),
    ],
)
def test_bad_flags_are_named(flags, message, capsys):
    with pytest.raises(SystemExit):
        recipe.parse_args(flags)
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        (b"one line only\n", "expected more than --validation-size"),
        (b"caf\xe9 latin-1\n" * 200, "is not UTF-8 text"),
    ],
)
def test_a_bad_text_file_is_one_line_naming_it(content, message, tmp_path, capsys):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(
            ["--corpus", "text", "--text-file", str(path),
             "--run-dir", str(tmp_path / "run")]
        )  # fmt: skip
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path) in err and message in err


def test_history_has_the_validation_loss(trained):
    _, runs = trained
    rows = (runs["skipgram"] / "history.csv").read_text().splitlines()
    header = ["epoch", "learning_rate", "loss", "val_loss"]
    assert rows[0].split(",") == header and len(rows) == 5
    rates, losses = zip(*[map(float, row.split(",")[1:3]) for row in rows[1:]])
    assert losses[-1] < losses[0]
    # word2vec's linearly falling rate, as it stood at each epoch's end.
    assert all(later < earlier for earlier, later in zip(rates, rates[1:]))
    assert 0 < rates[-1] < 0.01 / 4
    json.dumps(losses)
    for model in recipe.MODELS:
        picture(runs[model] / "learning_curves.png", panels=1)  # the loss alone


def test_a_search_trial_in_mixed_precision(corpus, tmp_path, capsys, monkeypatch):
    fix_search_space(monkeypatch, recipe, dim=50)
    recipe.main(
        [
            "--corpus", "text", "--text-file", corpus, "--model", "fasttext",
            "--validation-size", "50", "--window", "2", "--sample", "0",
            "--epochs", "1", "--batch-size", "32", "--buckets", "300",
            "--verbose", "0", "--tune", "--tuner", "random", "--max-trials", "1",
            "--precision", "mixed_bfloat16", "--run-dir", str(tmp_path / "run"),
            "--tune-dir", str(tmp_path / "search"), "--probes", "car",
        ]
    )  # fmt: skip
    output = capsys.readouterr().out
    assert "precision mixed_bfloat16" in output and "Best trial: {'dim'" in output
    vectors = WordVectors.load_word2vec_format(tmp_path / "run" / "vectors.txt")
    assert np.isfinite(vectors.vectors).all()
    assert vectors.dim == 50
    trials = list((tmp_path / "search" / "text_fasttext").glob("trial_*"))
    assert len(trials) == 1
