"""The main job end to end on real SST-2, at toy size: map, figure, subsets, a priced table, and quiet."""
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "quickstart.py"
HEADER = "| subset | size | epochs | dev accuracy | train time (s) | train FLOPs | total price (s) | total FLOPs |"


def load_script():
    spec = importlib.util.spec_from_file_location("quickstart", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_runs_end_to_end(shared_data, tmp_path, capfd):
    results = load_script().main(["--data", str(shared_data), "--model", "tiny", "--train-size", "90",
                                  "--epochs", "2", "--output-dir", str(tmp_path)])
    assert [r["subset"] for r in results] == ["100% (full)", "33% (ambiguous)", "33% (random)"]
    assert [r["size"] for r in results] == [90, 30, 30]
    assert all(0.0 <= r["dev_accuracy"] <= 1.0 and r["train_seconds"] > 0 and r["train_flops"] > 0 for r in results)
    assert (tmp_path / "map" / "datamap.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["results"] == results and saved["payback"].startswith("Pay-back:")
    # The map-chosen subset is priced with its map (the 100% run): it costs more than training once on all of it.
    full, ambiguous, random = results
    assert [r["map_included"] for r in results] == [False, True, False]
    assert ambiguous["total_seconds"] == pytest.approx(ambiguous["train_seconds"] + full["train_seconds"], abs=0.11)
    assert ambiguous["total_flops"] == ambiguous["train_flops"] + full["train_flops"] > full["total_flops"]
    assert ambiguous["total_seconds"] > full["total_seconds"]
    assert random["total_seconds"] == random["train_seconds"] and random["total_flops"] == random["train_flops"]
    printed = capfd.readouterr()
    assert HEADER in printed.out and "(with map)" in printed.out
    assert sum(line.startswith("Pay-back:") for line in printed.out.splitlines()) == 1
    assert "weak model" in printed.out  # a from-scratch model gets the note on what its map means
    # quiet: stage lines and the results on stdout; one progress bar per run on stderr, no Trainer logs
    assert len(printed.out) < 3000, printed.out
    everything = printed.out + printed.err
    assert "train_runtime" not in everything and "LOAD REPORT" not in everything and "tokenizing" not in everything
    assert printed.err.count("100% (full):") >= 1 and "it/s]" not in printed.err


def test_payback_counts_the_runs_that_pay_for_the_map():
    script = load_script()
    assert script.payback_runs(100.0, 85.0) == 7  # 100 + 7 * 85 = 695 < 700; with 6 runs, 610 > 600
    assert script.payback_runs(100.0, 50.0) == 3  # two runs cost exactly the same: not yet paid back
    assert script.payback_runs(100.0, 100.0) is None and script.payback_runs(100.0, 120.0) is None
    line = script.payback_line([{"train_seconds": 10.0, "train_flops": 4.0}, {"train_seconds": 11.0,
                                                                               "train_flops": 2.0}], 0.33)
    assert line.startswith("Pay-back: none at this size")


def test_quickstart_refuses_a_one_epoch_map(tmp_path, capsys):
    with pytest.raises(SystemExit):
        load_script().main(["--epochs", "1", "--output-dir", str(tmp_path)])
    assert "at least 2 epochs" in capsys.readouterr().err
