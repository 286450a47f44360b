"""Every flag of every recipe changes what is built or run, or is refused.

The cases are generated from the recipes' parsers: a flag added tomorrow is a
case tomorrow, and fails until a probe below says where it acts. For each flag,
a run with the flag changed is traced (`flag_trace`) and compared with the run
without it:

- in the recipe's small default setting, the changed flag must change the
  record (the model, optimizer, callbacks, data, fit arguments, or after `fit`
  the evaluation, output and files) or be refused with a usage error;
- where the flag applies only in another setting (`--filters` to TextCNN), its
  probe names that setting, and there it must change the record.

A value is derived from the flag's type (an integer + 1, a rate halved, a
switch turned on, the next choice); a probe gives one where it cannot be.
"""

import argparse
import dataclasses
import os
import shutil

import pytest

from garden import cli
from garden.models.bilm import build_bilm
from recipes import (
    bilm,
    language_model,
    sentiment,
    sst,
    tagging,
    translation,
    word_vectors,
)
from tests.recipes import flag_trace
from tests.recipes.conftest import without

pytestmark = pytest.mark.skipif(
    not os.environ.get("GARDEN_DATA"), reason="needs the corpora in $GARDEN_DATA"
)


@dataclasses.dataclass(frozen=True)
class Probe:
    """How to show a flag's effect.

    Attributes:
        value: The flag's changed value (`None`: derived from its type); a
            callable gets the trace directory. `()` for a switch.
        setting: Flags of the setting where the flag applies, if not the
            recipe's default one.
        after_fit: The flag acts after `fit` (evaluation, export, prints): the
            runs go to the end, each `fit` one step long.
        reaches: The recipe's function the flag's value reaches ("module:name"
            for another module's): its calls' arguments join the record.
        stop_at: A function whose first call, recorded, ends the run ("export"
            stands for the recipe's export function).
        fails: The changed flag is meant to stop the run with an error (a
            missing data directory).
        skip_reports: The flag acts after the test-set report (`REPORTS`),
            which the runs then skip, as its results do not depend on it.
    """

    value: object = None
    setting: tuple = ()
    after_fit: bool = False
    reaches: str = None
    stop_at: str = None
    fails: bool = False
    skip_reports: bool = False


def _in(directory, *parts):
    return lambda root: os.path.join(root, directory, *parts)


# Probes every recipe shares (the flags of `garden.cli.recipe_parser`).
TUNE = ("--tune", "--epochs", "2", "--max-trials", "1")
MAKE_TUNER = "garden.tuning.search:make_tuner"
SHARED = {
    "--data": Probe(value=_in("empty"), fails=True),
    # The search's tuner, as made: its kind, directory and trial budget.
    "--tune": Probe(value=(), setting=("--epochs", "2"), stop_at=MAKE_TUNER),
    "--tuner": Probe(value="random", setting=TUNE, stop_at=MAKE_TUNER),
    "--tune-dir": Probe(value=_in("other_tuning"), setting=TUNE, stop_at=MAKE_TUNER),
    "--max-trials": Probe(
        value="2", setting=(*TUNE, "--tuner", "random"), stop_at=MAKE_TUNER
    ),
    "--export": Probe(
        value=_in("exports"), after_fit=True, stop_at="export", skip_reports=True
    ),
    "--model-name": Probe(
        value="renamed",
        setting=("--export",),
        after_fit=True,
        stop_at="export",
        skip_reports=True,
    ),
}


def _checkpoint(name, *flags):
    """`best.keras` of a small run of the recipe (with `flags`), for `--evaluate`."""

    def make(root):
        path = os.path.join(root, "checkpoints", " ".join([name, *flags]))
        if not os.path.exists(os.path.join(path, "best.keras")):
            recipe, small, _ = RECIPES[name]
            flag_trace.trace(
                recipe, [*small, *flags, "--run-dir", path], root, stop_at_fit=False
            )
        return os.path.join(path, "best.keras")

    return Probe(value=make, after_fit=True)


# `--ensemble` with `--evaluate`'s checkpoint: another model of the same data.
SENTIMENT_CHECKPOINT = _checkpoint("sentiment")
SENTIMENT_ENSEMBLE = Probe(
    value=_checkpoint("sentiment", "--embedding-dim", "32").value,
    setting=("--evaluate", SENTIMENT_CHECKPOINT.value),
    after_fit=True,
)


def _file(name):
    return lambda root: os.path.join(root, "inputs", name)


# The sentiment recipe's ULMFiT, which fine-tunes the small biLM of `root`.
ULMFIT = ("--model", "ulmfit", "--bilm", "<bilm.keras>")
# Sampling flags reach `generate`: four continuations, four tokens each.
PROMPTED = ("--prompt", "the time", "--max-output-length", "4")
SAMPLING = Probe(setting=PROMPTED, reaches="generate")
# Reports whose results nothing uses, skipped after `fit` to keep the runs short.
SKIP = {"language_model": ("report_perplexity",)}
# Each recipe's test-set report, skipped too where a probe says its flag acts
# after it (exports, predictions of given texts).
REPORTS = {
    "sentiment": ("report_test",),
    "translation": ("report_test",),
    "sst": ("report_test",),
    "tagging": ("report_test",),
}
EXPORT = {
    "language_model": "export_language_model",
    "sentiment": "export_classifier",
    "translation": "export_translation_model",
    "sst": "export_sst_model",
    "tagging": "export_tagger",
    "word_vectors": "export_word_vectors",
}
RECIPES = {
    "language_model": (
        language_model,
        [
            "--corpus", "timemachine", "--level", "word", "--units", "8",
            "--num-layers", "1",
            "--epochs", "1", "--batch-size", "64", "--num-steps", "16",
            "--verbose", "0",
        ],
        {
            "--tie-weights": Probe(value=(), setting=("--embedding-dim", "8")),
            "--residual": Probe(value=(), setting=("--num-layers", "2")),
            "--hidden-dropout": Probe(setting=("--num-layers", "2")),
            "--locked-dropout": Probe(value=(), setting=("--dropout", "0.2")),
            "--nt-asgd": Probe(setting=("--optimizer", "sgd", "--epochs", "6")),
            "--truncation-probability": Probe(setting=("--bptt", "randomized")),
            "--ngram-orders": Probe(value="2", reaches="report_ngrams"),
            "--eval-rows": Probe(reaches="report_perplexity"),
            "--evaluate": _checkpoint("language_model"),
            "--prompt": Probe(value="the time", after_fit=True),
            "--max-output-length": SAMPLING,
            "--temperature": SAMPLING,
            "--top-k": SAMPLING,
            "--top-p": SAMPLING,
        },
    ),
    "sentiment": (
        sentiment,
        [
            "--max-train-examples", "60", "--validation-size", "20",
            "--max-test-examples", "20", "--epochs", "1", "--verbose", "0",
            "--max-length", "200", "--batch-size", "16",
        ],
        {
            "--model": Probe(value="textcnn"),
            "--embeddings": Probe(value="glove", setting=("--embedding-dim", "50")),
            "--bilm": Probe(value=_file("bilm.keras")),
            "--discriminative-decay": Probe(setting=ULMFIT),
            "--gradual-unfreezing": Probe(setting=ULMFIT),
            "--pretraining": Probe(setting=ULMFIT),
            "--weight-dropout": Probe(setting=ULMFIT),
            "--filters": Probe(setting=("--model", "textcnn")),
            "--multichannel": Probe(value=(), setting=("--model", "textcnn")),
            "--bag": Probe(value="tf_idf", setting=("--model", "bow")),
            "--bigram-min-count": Probe(setting=("--model", "nbsvm")),
            "--max-test-examples": Probe(after_fit=True),
            "--predictions": Probe(value=_in("run", "elsewhere.tsv"), after_fit=True),
            "--predict": Probe(value="a fine film", after_fit=True, skip_reports=True),
            "--evaluate": SENTIMENT_CHECKPOINT,
            "--ensemble": SENTIMENT_ENSEMBLE,
        },
    ),
    "translation": (
        translation,
        [
            "--max-train-pairs", "200", "--validation-size", "40", "--test-size",
            "20", "--epochs", "1", "--units", "8", "--embedding-dim", "8",
            "--num-layers", "1", "--batch-size", "32", "--verbose", "0",
        ],
        {
            "--max-length": Probe(value="5"),
            # Whole groups of pairs fill a split: 41 may give the split of 40.
            "--test-size": Probe(value="60"),
            "--validation-size": Probe(value="80"),
            "--beam-width": Probe(after_fit=True),
            "--length-penalty": Probe(after_fit=True, stop_at="Translator"),
            "--translations": Probe(value=_in("run", "other.tsv"), after_fit=True),
            "--translate": Probe(
                value="i am here .", after_fit=True, skip_reports=True
            ),
            "--evaluate": _checkpoint("translation"),
        },
    ),
    "sst": (
        sst,
        [
            "--max-train-trees", "30", "--max-test-trees", "20", "--epochs", "1",
            "--units", "8", "--batch-size", "10", "--verbose", "0",
        ],
        {
            "--embedding-dim": Probe(setting=("--embeddings", "random")),
            "--bilm": Probe(value=_file("bilm.keras"), setting=("--model", "bilstm")),
            "--max-test-trees": Probe(after_fit=True),
            "--evaluate": _checkpoint("sst"),
        },
    ),
    "word_vectors": (
        word_vectors,
        [
            "--corpus", "ptb", "--max-sentences", "300", "--dim", "8",
            "--epochs", "1", "--batch-size", "64", "--verbose", "0",
        ],
        {
            "--text-file": Probe(
                value=_file("other_corpus.txt"),
                setting=("--corpus", "text", "--text-file", "<corpus.txt>"),
            ),
            "--validation-size": Probe(setting=("--corpus", "imdb")),
            "--buckets": Probe(value="1000", setting=("--model", "fasttext")),
            "--min-n": Probe(setting=("--model", "fasttext", "--buckets", "1000")),
            "--max-n": Probe(setting=("--model", "fasttext", "--buckets", "1000")),
            "--probes": Probe(value="the", after_fit=True),
            "--vectors": Probe(value=_in("run", "other.txt"), after_fit=True),
        },
    ),
    "bilm": (
        bilm,
        [
            "--max-train-examples", "30", "--validation-size", "8", "--max-tokens",
            "200", "--embedding-dim", "8", "--units", "8", "--num-steps", "20",
            "--batch-size", "16", "--epochs", "1", "--verbose", "0",
        ],
        {
            "--sampled-softmax": Probe(value="50"),
            # Refused: the biLM has no search space.
            "--tune": Probe(value=()),
            "--tuner": Probe(),
            "--tune-dir": Probe(value=_in("other_tuning")),
            "--max-trials": Probe(),
            "--model-name": Probe(),  # refused: the biLM has no export
            "--evaluate": _checkpoint("bilm"),
        },
    ),
    "tagging": (
        tagging,
        [
            "--max-train-examples", "40", "--validation-size", "10",
            "--max-test-examples", "10", "--epochs", "1", "--verbose", "0",
            "--units", "8", "--embedding-dim", "8", "--num-layers", "1",
            "--window", "50",
        ],
        {
            "--max-test-examples": Probe(after_fit=True),
            "--punctuate": Probe(
                value="so good i loved it", after_fit=True, skip_reports=True
            ),
            "--mark-offsets": Probe(after_fit=True),
            # A tiny model may tag alike either way: the windows it is given differ.
            "--stride": Probe(value="10", after_fit=True, reaches="predict_logits"),
            "--embeddings": Probe(value="glove", setting=("--embedding-dim", "50")),
            "--evaluate": _checkpoint("tagging"),
        },
    ),
}  # fmt: skip


def _fit(record):
    return record["calls"][0][1]


def _callback(name):
    return lambda record: [c for c in _fit(record)["callbacks"] if c[0] == name]


# Shared flags whose effect shows in the first `fit` of every recipe, each in
# its own part of the record: one run changes them all at once (per recipe),
# and each must change its part. (Thirteen runs per recipe otherwise.)
AT_FIT = {
    "--epochs": ("3", lambda r: _fit(r)["arguments"]["epochs"]),
    "--batch-size": ("7", lambda r: _fit(r)["train"]),
    "--optimizer": ("rmsprop", lambda r: _fit(r)["optimizer"]["name"]),
    "--learning-rate": ("0.0123", lambda r: _fit(r)["optimizer"]["learning_rate"]),
    "--clip-norm": ("0.5", lambda r: _fit(r)["optimizer"]["global_clipnorm"]),
    "--lr-decay": ("0.5", _callback("EpochLearningRate")),
    "--lr-decay-start": ("2", _callback("EpochLearningRate")),
    "--patience": ("1", _callback("ResumableEarlyStopping")),
    "--seed": ("5", lambda r: _fit(r)["model"]["weights"]),
    "--verbose": ("2", lambda r: _fit(r)["arguments"]["verbose"]),
    "--run-dir": (_in("elsewhere"), _callback("BestCheckpoint")),
    "--precision": ("mixed_bfloat16", lambda r: _fit(r)["global_policy"]),
    "--strategy": ("mirrored", lambda r: _fit(r)["strategy"]),
}


# Under pytest-xdist (`--dist loadgroup`), one worker runs all of a recipe's
# cases: the runs without the flags (`_base`) and the checkpoints are made
# once, not once on each worker.
_GROUP = {name: pytest.mark.xdist_group(f"flags-{name}") for name in RECIPES}


def _cases():
    for name, (recipe, _, _) in RECIPES.items():
        for action in flag_trace.flag_actions(flag_trace.recipe_parser(recipe)):
            flag = action.option_strings[0]
            if flag not in AT_FIT:
                yield pytest.param(name, flag, id=f"{name}{flag}", marks=_GROUP[name])


def _shared_flags():
    return {
        action.option_strings[0]
        for action in flag_trace.flag_actions(cli.recipe_parser("", "x"))
    }


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=_GROUP[name]) for name in RECIPES]
)
def test_shared_flags_reach_the_first_fit(name, root):
    recipe, small, _ = RECIPES[name]
    assert _shared_flags() <= {
        action.option_strings[0]
        for action in flag_trace.flag_actions(flag_trace.recipe_parser(recipe))
    }
    changed = [*small]
    for flag, (value, _) in AT_FIT.items():
        changed += [flag, value(root) if callable(value) else value]
    if name == "word_vectors":  # word2vec's sgd: refused with the others
        refused = ("--optimizer", "--lr-decay", "--lr-decay-start", "--clip-norm")
        for flag in refused:
            with pytest.raises(SystemExit):
                recipe.parse_args([*small, flag, dict(AT_FIT)[flag][0]])
        changed = [
            item
            for flag, value in zip(changed[::2], changed[1::2])
            if flag not in refused
            for item in (flag, value)
        ]
    base = _base(name, (), root, Probe())
    record = _trace(name, changed, root, Probe())
    assert not _refused_or_failed(record), record
    for flag, (_, part) in AT_FIT.items():
        if flag in changed:
            assert part(record) != part(base), f"{flag} changed nothing in {name}"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """The traces' directory, with a text corpus and a small untrained biLM."""
    root = tmp_path_factory.mktemp("flags")
    inputs = root / "inputs"
    inputs.mkdir()
    lines = ["the film was good .", "it was not bad , i think ."] * 200
    (inputs / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    other = [" ".join(reversed(line.split())) for line in lines]
    (inputs / "other_corpus.txt").write_text("\n".join(other) + "\n", "utf-8")
    words = ["the", "film", "was", "good", "bad", "not", ".", ",", "i", "it"]
    build_bilm(["<pad>", "<unk>", "<bos>", "<eos>", *words], 4, 6).save(
        inputs / "bilm.keras"
    )
    return str(root)


def _value(action, probe, current, root):
    if probe.value == ():
        return []
    if callable(probe.value):
        return [probe.value(root)]
    if probe.value is not None:
        return [probe.value]
    if isinstance(action, argparse.BooleanOptionalAction):
        return []  # the flag's other spelling is chosen by the caller
    if action.nargs == 0:
        return []
    if action.choices:
        return [next(str(c) for c in action.choices if c != current)]
    if isinstance(current, str) and action.type is None:
        return [current + "_changed"]
    if isinstance(current, bool) or current is None and action.type is None:
        raise AssertionError(
            f"no value for {action.option_strings[0]}: give its probe one"
        )
    if (
        isinstance(current, int)
        or action.type in (int,)
        or getattr(action.type, "__name__", "") in ("positive_int", "parse")
    ):
        return [str((current or 2) + 1)]
    return [str((current or 1.0) * 0.5)]


# The small settings' flags that a search picks, left out of a probe that
# runs one (`--tune` refuses them).
SEARCHED_IN_SMALL = {
    "language_model": ("--units", "--num-layers"),
    "translation": ("--units", "--embedding-dim", "--num-layers"),
    "sst": ("--units",),
    "word_vectors": ("--dim",),
    "tagging": ("--units", "--num-layers"),
}

_BASE = {}


def _trace(name, argv, root, probe):
    for directory in os.listdir(root):
        if directory not in ("checkpoints", "inputs"):
            shutil.rmtree(os.path.join(root, directory), ignore_errors=True)
    os.makedirs(os.path.join(root, "empty"), exist_ok=True)
    # Later flags win: a probe's own --run-dir or --tune-dir replaces these.
    flags = ["--run-dir", os.path.join(root, "run")]
    if "--tune" in argv:
        flags += ["--tune-dir", os.path.join(root, "tuning")]
        argv = without(argv, *SEARCHED_IN_SMALL.get(name, ()))
    flags += argv
    after_fit = probe.after_fit or probe.reaches
    skip = [*SKIP.get(name, ()), *(REPORTS.get(name, ()) if probe.skip_reports else ())]
    skip = [function for function in skip if function != probe.reaches]
    stop_at = EXPORT.get(name) if probe.stop_at == "export" else probe.stop_at
    return flag_trace.trace(
        RECIPES[name][0],
        flags,
        root,
        # A run stops at its first `fit` unless what the probe looks for
        # comes after it; `stop_at` may come first (a search's tuner).
        stop_at_fit=not after_fit,
        reaches=probe.reaches,
        stop_at=stop_at,
        skip=skip if after_fit else (),
    )


def _base(name, setting, root, probe):
    key = (
        name,
        setting,
        probe.after_fit,
        probe.reaches,
        probe.stop_at,
        probe.skip_reports,
    )
    if key not in _BASE:
        _BASE[key] = _trace(name, [*RECIPES[name][1], *setting], root, probe)
    return _BASE[key]


def _refused_or_failed(record):
    return isinstance(record, list) and record[0] in ("refused", "failed")


@pytest.mark.parametrize("name, flag", list(_cases()))
def test_flag_changes_the_run_or_is_refused(name, flag, root):
    recipe, small, probes = RECIPES[name]
    probe = probes.get(flag) or SHARED.get(flag) or Probe()
    action = next(
        action
        for action in flag_trace.flag_actions(flag_trace.recipe_parser(recipe))
        if flag in action.option_strings
    )
    settings = [()]
    if probe.setting:
        settings.append(tuple(_expand(probe.setting, root)))
    for setting in settings:
        try:
            current = getattr(recipe.parse_args([*small, *setting]), action.dest)
        except SystemExit:  # the setting needs the flag itself (--text-file)
            current = None
        spelled = flag
        if isinstance(action, argparse.BooleanOptionalAction):
            spelled = action.option_strings[1 if current else 0]
        changed = [*small, *setting, spelled, *_value(action, probe, current, root)]
        record = _trace(name, changed, root, probe)
        outcome = record[0] if isinstance(record, list) else "ran"
        if outcome == "refused" and not setting:
            # A recipe may refuse a shared flag it cannot honour; its own flags
            # must act somewhere: in the setting their probe names.
            assert probe.setting or flag in _shared_flags(), (
                f"{flag} is refused and its probe names no setting where it acts"
            )
            continue
        assert outcome != "refused", f"{flag} refused where it should act: {record}"
        if outcome == "failed":
            assert probe.fails, f"{flag} broke the run: {record}"
        base = _base(name, setting, root, probe)
        assert not _refused_or_failed(base), f"the run without {flag}: {base}"
        assert record != base, f"{' '.join(changed)}: {flag} changed nothing"


def _expand(setting, root):
    expanded = []
    for item in setting:
        if item == "--export":
            expanded += ["--export", os.path.join(root, "exports")]
        elif callable(item):  # a file made on demand (a checkpoint)
            expanded.append(item(root))
        elif item.startswith("<"):  # a file of the inputs
            expanded.append(os.path.join(root, "inputs", item.strip("<>")))
        else:
            expanded.append(item)
    return expanded
