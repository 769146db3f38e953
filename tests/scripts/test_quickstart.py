"""The main job end to end on real SST-2, at toy size: map, figure, subsets, table."""
import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "quickstart.py"


def load_script():
    spec = importlib.util.spec_from_file_location("quickstart", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_runs_end_to_end(shared_data, tmp_path, capsys):
    results = load_script().main(["--data", str(shared_data), "--model", "tiny", "--train-size", "90",
                                  "--epochs", "2", "--output-dir", str(tmp_path)])
    assert [r["subset"] for r in results] == ["100% (full)", "33% (ambiguous)", "33% (random)"]
    assert [r["size"] for r in results] == [90, 30, 30]
    assert all(0.0 <= r["dev_accuracy"] <= 1.0 and r["train_seconds"] > 0 for r in results)
    assert (tmp_path / "map" / "datamap.png").stat().st_size > 1000
    assert json.loads((tmp_path / "results.json").read_text())["results"] == results
    printed = capsys.readouterr().out
    assert "| subset | size | epochs | dev accuracy | train time (s) |" in printed
    assert "weak model" in printed  # a from-scratch model gets the note on what its map means


def test_quickstart_refuses_a_one_epoch_map(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit):
        load_script().main(["--epochs", "1", "--output-dir", str(tmp_path)])
    assert "at least 2 epochs" in capsys.readouterr().err
