"""The biLM recipe end to end on a few IMDb training reviews, small and fast."""

import os

import keras
import pytest

from garden.models.bilm import DIRECTIONS, load_bilm
from garden.training.sampled_softmax import SampledSoftmaxModel
from recipes import bilm as recipe
from tests.training.test_plots import picture

pytestmark = pytest.mark.skipif(
    not os.environ.get("GARDEN_DATA"), reason="needs the corpora in $GARDEN_DATA"
)
SMALL = [
    "--max-train-examples", "40", "--validation-size", "8", "--max-tokens", "300",
    "--embedding-dim", "8", "--units", "8", "--num-steps", "30", "--batch-size",
    "16", "--epochs", "2", "--learning-rate", "0.01", "--verbose", "0",
]  # fmt: skip


def perplexities_of(output):
    held_out = output.split("Held-out perplexity", 1)[1]
    return {
        line.split(":")[0].strip(): float(line.split(":")[1].split()[0])
        for line in held_out.splitlines()[1:3]
    }


def test_trains_reports_both_directions_and_saves_its_vocabulary(tmp_path, capsys):
    recipe.main([*SMALL, "--run-dir", str(tmp_path)])
    output = capsys.readouterr().out
    assert "train: 32 reviews" in output and "valid: 8 reviews" in output
    perplexities = perplexities_of(output)
    assert set(perplexities) == {"forward", "backward"}
    # Below a uniform guess over the 300 words: both directions learned.
    assert all(1 < value < 300 for value in perplexities.values()), perplexities
    features, tokens = load_bilm(str(tmp_path / "best.keras"))
    assert len(tokens) == 300 and tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert len(features.outputs) == 3
    # loss, and the loss and perplexity of each direction
    picture(tmp_path / "learning_curves.png", panels=5)
    checkpoint = str(tmp_path / "best.keras")
    again = str(tmp_path / "again")
    recipe.main([*SMALL, "--run-dir", again, "--evaluate", checkpoint])
    assert perplexities_of(capsys.readouterr().out) == perplexities
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(
            [*SMALL, "--max-tokens", "200", "--evaluate", checkpoint,
             "--run-dir", str(tmp_path / "other")]
        )  # fmt: skip
    assert exit_info.value.code == 1
    assert "argument --evaluate: " in capsys.readouterr().err


def test_a_sampled_softmax_run_leaves_a_plain_bilm(tmp_path, capsys):
    recipe.main([*SMALL, "--run-dir", str(tmp_path), "--sampled-softmax", "50"])
    perplexities = perplexities_of(capsys.readouterr().out)
    # Reported on the full softmax over the 300 words.
    assert all(1 < value < 300 for value in perplexities.values()), perplexities
    assert sorted(os.listdir(tmp_path)) == [
        ".lock",  # the run's lock on its directory
        "best.keras",
        "history.csv",
        "learning_curves.png",
        "logs",
        "run.json",
    ]
    features, tokens = load_bilm(str(tmp_path / "best.keras"))
    assert len(tokens) == 300 and len(features.outputs) == 3
    # A checkpoint from the middle of such a run holds the training wrapper;
    # --evaluate reads the biLM inside it.
    bilm = keras.saving.load_model(str(tmp_path / "best.keras"))
    states = {direction: f"{direction}_states" for direction in DIRECTIONS}
    wrapper = str(tmp_path / "wrapper.keras")
    SampledSoftmaxModel(bilm, states, num_samples=50).save(wrapper)
    again = str(tmp_path / "again")
    recipe.main([*SMALL, "--run-dir", again, "--evaluate", wrapper])
    assert perplexities_of(capsys.readouterr().out) == perplexities


def test_steps_per_epoch_must_leave_out_some_batches(tmp_path, capsys):
    # SMALL's 32 training reviews make 18 batches of 16 windows: taking
    # 18 or more batches an epoch would be every batch, as without the flag.
    for steps in ("18", "1000"):
        with pytest.raises(SystemExit) as exit_info:
            recipe.main(
                [*SMALL, "--steps-per-epoch", steps, "--run-dir", str(tmp_path)]
            )
        assert exit_info.value.code == 1
        err = capsys.readouterr().err
        assert "argument --steps-per-epoch: expected fewer than the 18 batches" in err
    recipe.main(
        [*SMALL, "--steps-per-epoch", "17", "--epochs", "1", "--run-dir", str(tmp_path)]
    )
    assert "Held-out perplexity" in capsys.readouterr().out


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--sampled-softmax", "300"], "--sampled-softmax"),
        (["--validation-size", "40"], "--validation-size"),
        (["--max-tokens", "4"], "--max-tokens"),
        (["--dropout", "1"], "--dropout"),
        (["--export", "saved_models"], "--export"),
    ],
)
def test_bad_flags_fail_clearly(flags, message, capsys):
    with pytest.raises(SystemExit):
        recipe.parse_args([*SMALL, *flags])
    assert message in capsys.readouterr().err
