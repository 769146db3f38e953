"""The `greennlp` command: map a CSV, JSONL or Parquet file and select from the map, matched by recorded ids, with
clear errors for bad labels and for another data file."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from greennlp.cli import main
from greennlp.datamaps import DataMap

N = 60  # 0.33 of 60 is 19.8: no rounding tie
FRACTION = 0.33


def reviews(n: int = N, seed: int = 0) -> pd.DataFrame:
    from synthetic import synthetic_sentiment

    data = synthetic_sentiment(n, seed=seed)
    return pd.DataFrame({"review": data["text"],
                         "sentiment": ["positive" if label else "negative" for label in data["label"]],
                         "stars": [5 if label else 1 for label in data["label"]],
                         "review_id": [f"r{i:03d}" for i in range(n)]})


def run(*argv) -> int:
    return main([str(arg) for arg in argv])


def map_args(data: Path, output: Path, *extra) -> list:
    return ["map", data, "--output", output, "--model", "tiny", "--epochs", 2, *extra]


def test_csv_with_label_names_maps_selects_and_refuses_other_data(tmp_path, capfd):
    frame = reviews()
    data, output = tmp_path / "reviews.csv", tmp_path / "map"
    frame.to_csv(data, index=False)
    assert run(*map_args(data, output, "--text-column", "review", "--label-column", "sentiment")) == 0
    printed = capfd.readouterr()
    for name in ("map.png", "map.html", "label_errors.csv", "labels.json", "source.json", "price_tag.json"):
        assert (output / name).is_file(), name
    data_map = DataMap.load(output)
    assert len(data_map) == N and data_map.id_column == "row_number"
    assert sorted(data_map.table.index) == list(range(N))  # ids are the row numbers of DATA
    # label names are numbered in sorted order, kept, and written back wherever labels are shown
    assert json.loads((output / "labels.json").read_text())["names"] == ["negative", "positive"]
    expected_gold = (frame["sentiment"] == "positive").astype(int).to_numpy()
    assert (data_map.table["gold"].sort_index().to_numpy() == expected_gold).all()
    errors = pd.read_csv(output / "label_errors.csv")
    assert list(errors.columns[:5]) == ["id", "rank", "score", "gold", "text"]
    assert set(errors["gold"]) == {"negative", "positive"} and list(errors["rank"]) == list(range(1, N + 1))
    row = errors.iloc[0]
    assert frame.loc[row["id"], "review"] == row["text"] and frame.loc[row["id"], "sentiment"] == row["gold"]
    assert "positive" in (output / "map.html").read_text(encoding="utf-8")
    # quiet: the results and the price tag on stdout, one bar per stage on stderr, no Trainer or load noise
    assert "price:" in printed.out and "FLOPs" in printed.out and len(printed.out) < 2000
    assert "train_runtime" not in printed.out + printed.err and "LOAD REPORT" not in printed.out + printed.err
    assert "training tiny" in printed.err

    subset = tmp_path / "ambiguous.jsonl"
    assert run("select", output, data, "--region", "ambiguous", "--fraction", FRACTION, "--output", subset) == 0
    chosen = pd.read_json(subset, lines=True, dtype=False)
    assert len(chosen) == round(FRACTION * N) and list(chosen.columns) == list(frame.columns)
    rows = sorted(data_map._select("ambiguous", fraction=FRACTION))
    assert chosen.to_dict("records") == frame.iloc[rows].to_dict("records")
    # the same rows in another format are the same data; other rows, or the same rows reordered, are not
    frame.to_parquet(tmp_path / "same.parquet")
    assert run("select", output, tmp_path / "same.parquet", "--fraction", FRACTION,
               "--output", tmp_path / "again.csv") == 0
    assert pd.read_csv(tmp_path / "again.csv").to_dict("records") == frame.iloc[rows].to_dict("records")
    capfd.readouterr()
    reviews(seed=1).to_csv(tmp_path / "other.csv", index=False)
    frame.iloc[::-1].to_csv(tmp_path / "reversed.csv", index=False)
    for other in ("other.csv", "reversed.csv"):
        assert run("select", output, tmp_path / other, "--fraction", FRACTION,
                   "--output", tmp_path / "wrong.jsonl") == 2
        error = capfd.readouterr().err
        assert f"DATA '{tmp_path / other}' is not the data the map" in error and "reviews.csv" in error
        assert not (tmp_path / "wrong.jsonl").exists()


def test_jsonl_with_integer_labels_and_an_id_column_without_plotly(tmp_path, capfd, monkeypatch):
    frame = reviews().rename(columns={"review": "text"})
    frame["label"] = (frame.pop("sentiment") == "positive").astype(int)
    data, output = tmp_path / "reviews.jsonl", tmp_path / "map"
    frame.to_json(data, orient="records", lines=True)
    monkeypatch.setitem(sys.modules, "plotly", None)  # the interactive extra is not installed
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    assert run(*map_args(data, output, "--id-column", "review_id")) == 0
    printed = capfd.readouterr().out
    assert not (output / "map.html").exists() and "pip install 'greennlp[interactive]'" in printed
    assert (output / "map.png").is_file() and (output / "label_errors.csv").is_file()
    data_map = DataMap.load(output)
    assert data_map.id_column == "review_id" and set(data_map.table.index) == set(frame["review_id"])
    assert json.loads((output / "labels.json").read_text()) == {"label_column": "label", "labels": "ids",
                                                                "names": ["0", "1"]}
    errors = pd.read_csv(output / "label_errors.csv")
    assert set(errors["id"]) == set(frame["review_id"]) and set(errors["gold"]) == {0, 1}

    # ids, not positions: the same rows shuffled, as Parquet, select the same examples
    shuffled = tmp_path / "shuffled.parquet"
    frame.sample(frac=1.0, random_state=3).to_parquet(shuffled, index=False)
    subset = tmp_path / "easy.parquet"
    assert run("select", output, shuffled, "--region", "easy", "--fraction", 0.2, "--output", subset) == 0
    chosen = pd.read_parquet(subset)
    assert len(chosen) == round(0.2 * N) and list(chosen.columns) == list(frame.columns)
    assert set(chosen["review_id"]) == set(data_map._select("easy", fraction=0.2))
    expected = frame.set_index("review_id").loc[chosen["review_id"]].reset_index()[list(frame.columns)]
    assert chosen.reset_index(drop=True).to_dict("records") == expected.to_dict("records")
    # one changed label makes it other data
    changed = frame.copy()
    changed.loc[7, "label"] = 1 - changed.loc[7, "label"]
    changed.to_json(tmp_path / "changed.jsonl", orient="records", lines=True)
    capfd.readouterr()
    assert run("select", output, tmp_path / "changed.jsonl", "--output", tmp_path / "wrong.jsonl") == 2
    assert "is not the data the map" in capfd.readouterr().err


@pytest.mark.parametrize(("labels", "message"), [
    ([1, 2] * (N // 2), r"Row 1 of DATA .* has label 2 in column 'label', outside 0\.\.1.*Renumber them 0\.\.1"),
    ([0, 1] * (N // 2 - 1) + [0, None], r"Row 59 of DATA .* has no label in column 'label'.*Fill it in"),
    ([0.5, 1.0] * (N // 2), r"Row 0 of DATA .* has label 0\.5 in column 'label'.*regression targets are not supported"),
    (["good", 1] * (N // 2), r"mixes label names and other values \(row 1: 1\)"),
    ([1] * N, r"holds one class \(1\) in every row"),
])
def test_bad_labels_are_refused_naming_the_row_and_the_fix(tmp_path, capfd, labels, message):
    data = tmp_path / "data.jsonl"
    pd.DataFrame({"text": reviews()["review"], "label": labels}).to_json(data, orient="records", lines=True)
    assert run(*map_args(data, tmp_path / "map")) == 2
    error = capfd.readouterr().err
    assert error.startswith("greennlp map: error: ")
    assert re.search(message, error), error
    assert not (tmp_path / "map").exists()  # refused before any training


def test_bad_arguments_are_refused_before_training(tmp_path, capfd):
    data = tmp_path / "data.csv"
    reviews().to_csv(data, index=False)
    cases = [
        (map_args(data, tmp_path / "a"), r"no column 'text'; its columns are \['review', 'sentiment', 'stars', "
                                         r"'review_id'\]\. Name the right ones with --text-column"),
        (map_args(data, tmp_path / "a", "--text-column", "review", "--label-column", "sentiment", "--epochs", 1),
         "at least 2 epochs"),
        (map_args(data, tmp_path / "a", "--text-column", "review", "--label-column", "sentiment", "--id-column",
                  "stars"), r"--id-column 'stars' repeats ids"),
        (map_args(tmp_path / "data.txt", tmp_path / "a"), r"greennlp reads \['\.csv', '\.jsonl', '\.parquet'\]"),
        (["select", tmp_path, data, "--output", tmp_path / "subset.jsonl"], "has no source.json"),
        (["select", tmp_path, data, "--output", tmp_path / "subset.txt"], r"--output .*subset\.txt"),
        (["select", tmp_path, data, "--output", data], r"is DATA itself"),
    ]
    for argv, message in cases:
        assert run(*argv) == 2, argv
        error = capfd.readouterr().err
        assert re.search(message, error), error
    assert not (tmp_path / "a").exists()


def test_installed_console_script_shows_help():
    script = Path(sys.executable).parent / "greennlp"
    if not script.is_file():
        pytest.skip("the console script is not installed (pip install -e . installs it)")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "map" in result.stdout and "select" in result.stdout
    result = subprocess.run([str(script), "map", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--label-column" in result.stdout and "--id-column" in result.stdout
