"""greennlp._results.ResultsTable: resumable, one row per key, two writers keep both rows."""
from __future__ import annotations

import multiprocessing

import pandas as pd
import pytest

from greennlp._results import ResultsTable


def _table(path):
    return ResultsTable(path, key=["strategy", "fraction", "seed"], writer="test", required=["accuracy"])


def test_append_load_and_done(tmp_path):
    table = _table(tmp_path / "results.parquet")
    assert table.done() == set() and list(table.load().columns) == ["strategy", "fraction", "seed", "accuracy"]
    table.append({"strategy": "random", "fraction": 0.5, "seed": 0, "accuracy": 0.8})
    table.append({"strategy": "random", "fraction": 1.0, "seed": 1, "accuracy": 0.9})
    # same key again: replaced, not duplicated
    whole = table.append({"strategy": "random", "fraction": 0.5, "seed": 0, "accuracy": 0.7})
    assert len(whole) == 2 and whole.loc[whole.fraction == 0.5, "accuracy"].item() == 0.7
    assert _table(tmp_path / "results.parquet").done() == {("random", 0.5, 0), ("random", 1, 1)}


def test_refuses_foreign_file_and_incomplete_row(tmp_path):
    path = tmp_path / "results.parquet"
    pd.DataFrame({"other": [1]}).to_parquet(path)
    with pytest.raises(ValueError, match="not written by test"):
        _table(path).load()
    with pytest.raises(ValueError, match="lacks"):
        _table(tmp_path / "new.parquet").append({"strategy": "random", "seed": 0})


def _writer(path: str, seed: int) -> None:
    table = _table(path)
    for fraction in (0.25, 0.5, 0.75):
        table.append({"strategy": "random", "fraction": fraction, "seed": seed, "accuracy": 0.5})


def test_two_processes_keep_all_rows(tmp_path):
    path = str(tmp_path / "results.parquet")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, seed)) for seed in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert len(_table(path).load()) == 6
