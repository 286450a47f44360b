import argparse
import json
import os
import subprocess
import sys

import pytest

from garden.data import sources
from garden.errors import UserError
from garden.training import run_record


def args_of(run_dir, **flags):
    return argparse.Namespace(run_dir=str(run_dir), seed=0, **flags)


def test_a_run_writes_what_ran_on_what_and_what_it_measured(tmp_path):
    data = tmp_path / "corpus.txt"
    data.write_text("some words\n")
    args = args_of(tmp_path / "run", text_file=str(data), epochs=3)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "history.csv").write_text(
        "epoch,learning_rate,loss\n0,0.5,2.0\n1,0.25,1.5\n"
    )
    with run_record.recorded(args, ["--epochs", "3"]):
        args.epochs = 4  # a recipe resolving a flag: the record shows the result
        run_record.log_metrics("test", accuracy=0.75)
        run_record.log_metrics("test", reviews=20)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["command"][1:] == ["--epochs", "3"]
    assert record["flags"]["epochs"] == 4 and record["status"] == "finished"
    assert record["metrics"] == {"test": {"accuracy": 0.75, "reviews": 20.0}}
    assert [row["learning_rate"] for row in record["history"]] == [0.5, 0.25]
    assert record["data_files"][str(data)] == sources.file_digest(data)
    assert len(record["git"]["commit"]) == 40 and record["git"]["dirty"] in (
        True,
        False,
    )
    assert record["packages"]["tensorflow"] and record["packages"]["keras"]
    assert record["machine"]["cpus"] == os.cpu_count()
    assert record["wall_seconds"] >= 0


def test_an_evaluation_keeps_the_training_runs_record(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,loss\n0,2.0\n")
    with run_record.recorded(args_of(tmp_path, evaluate=None, epochs=3)):
        run_record.log_metrics("test", accuracy=0.75)
    with run_record.recorded(args_of(tmp_path, evaluate="best.keras", epochs=3)):
        run_record.log_metrics("test", accuracy=0.5)
    trained = json.loads((tmp_path / "run.json").read_text())
    assert trained["metrics"]["test"]["accuracy"] == 0.75
    assert [row["loss"] for row in trained["history"]] == [2.0]
    scored = json.loads((tmp_path / "evaluation.json").read_text())
    assert scored["flags"]["evaluate"] == "best.keras"
    assert scored["metrics"]["test"]["accuracy"] == 0.5
    assert scored["history"] == [] and scored["status"] == "finished"


def test_corpus_files_read_are_listed_with_their_checksums(tmp_path):
    if not os.environ.get("GARDEN_DATA"):
        pytest.skip("needs the corpora in $GARDEN_DATA")
    path, _ = sources.locate("timemachine")
    with run_record.recorded(args_of(tmp_path)):
        pass
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["data_files"][os.path.abspath(path)] == (
        sources.SOURCES["timemachine"].sha256
    )


def test_a_failed_run_says_so_and_a_refused_one_writes_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with run_record.recorded(args_of(tmp_path / "failed")):
            raise RuntimeError("diverged")
    record = json.loads((tmp_path / "failed" / "run.json").read_text())
    assert record["status"] == "failed: RuntimeError: diverged"
    with pytest.raises(SystemExit):
        with run_record.recorded(args_of(tmp_path / "refused")):
            raise SystemExit(2)
    assert not os.path.exists(tmp_path / "refused" / "run.json")


def test_an_export_carries_the_record_as_its_model_card(tmp_path):
    export = tmp_path / "exports" / "model" / "1"
    export.mkdir(parents=True)
    with run_record.recorded(args_of(tmp_path / "run", learning_rate=0.1)):
        run_record.log_metrics("valid", perplexity=12.5)
        run_record.attach_to_export(str(export))
    card = json.loads((export / "assets.extra" / "run.json").read_text())
    assert card["flags"]["learning_rate"] == 0.1
    assert card["metrics"] == {"valid": {"perplexity": 12.5}}
    # Outside a run (a recipe function called from Python) nothing is written.
    run_record.log_metrics("test", accuracy=1.0)
    run_record.attach_to_export(str(tmp_path))
    assert not os.path.exists(tmp_path / "assets.extra")


def test_a_user_error_is_one_line_and_exit_status_1(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        with run_record.recorded(args_of(tmp_path)):
            raise UserError("argument --text-file: 'x.txt' is not UTF-8 text")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.endswith(": error: argument --text-file: 'x.txt' is not UTF-8 text\n")
    assert "Traceback" not in err and err.count("\n") == 1
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"].startswith("failed: argument --text-file")


HOLD_LOCK = """
import sys, time
from garden.training import run_record
lock = run_record._lock(sys.argv[1])
print("locked", flush=True)
time.sleep(120)
"""


def test_a_second_run_on_a_locked_run_dir_stops_naming_the_first(tmp_path, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SystemExit) as exit_info:
            with run_record.recorded(args_of(tmp_path)):
                raise AssertionError("a second run must not start")
        assert exit_info.value.code == 1
        err = capsys.readouterr().err
        assert f"argument --run-dir: {str(tmp_path)!r} is in use by process " in err
        assert str(holder.pid) in err
        assert not os.path.exists(tmp_path / "run.json")
    finally:
        holder.kill()
        holder.wait()
    # A killed run leaves no stale lock: the directory is free again.
    with run_record.recorded(args_of(tmp_path)):
        pass
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "finished"
