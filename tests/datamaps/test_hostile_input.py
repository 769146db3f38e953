"""Maps that cannot hold regions, damaged map files and malformed input: each is refused or reported with the file,
line, column or argument at fault and the fix, never turned into a silently wrong map."""
import json
import logging

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from datasets import Dataset

from greennlp.datamaps import DataMap
from greennlp.datamaps.storage import epoch_path, read_cartography_jsonl
from greennlp.filters import select_by_region, select_by_score

LOGGER = "greennlp.datamaps"


def logits_map(n=12, epochs=3, classes=2, seed=0, **kwargs) -> DataMap:
    rng = np.random.default_rng(seed)
    return DataMap.from_logits(rng.normal(size=(n, epochs, classes)), np.arange(n) % classes, **kwargs)


def saved_map(tmp_path, n=12, epochs=3, **kwargs):
    path = tmp_path / "map"
    logits_map(n, epochs, ids=[f"ex{i}" for i in range(n)], **kwargs).save(path)
    return path


def edit_metadata(path, **changes):
    metadata = json.loads((path / "metadata.json").read_text())
    (path / "metadata.json").write_text(json.dumps({**metadata, **changes}))


def warnings_of(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


# --- 1. regions need two observations per example ------------------------------------------------------------

def test_one_epoch_map_has_no_regions_and_refuses_variability_selection(caplog, tmp_path):
    dataset = Dataset.from_dict({"text": [f"t{i}" for i in range(12)], "label": [i % 2 for i in range(12)]})
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        data_map = logits_map(epochs=1)
    assert (data_map.table["variability"] == 0).all()
    assert data_map.table["region"].isna().all()
    assert "observed once" in warnings_of(caplog) and "snapshots_per_epoch" in warnings_of(caplog)
    for region in ("ambiguous", "easy-to-learn", "hard"):
        with pytest.raises(ValueError, match="no regions.*observed once.*snapshots_per_epoch"):
            data_map._select(region, fraction=0.33)
        with pytest.raises(ValueError, match="snapshots_per_epoch"):
            select_by_region(dataset, data_map, region)
    with pytest.raises(ValueError, match="Cannot rank by variability.*snapshots_per_epoch"):
        data_map.scores("variability")
    confident = select_by_score(dataset, data_map.scores("confidence"), fraction=0.5, data_map=data_map)
    assert len(confident) == 6  # confidence needs one observation only

    data_map.save(tmp_path / "map")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        loaded = DataMap.load(tmp_path / "map")
    assert loaded.table["region"].isna().all() and "no regions" in warnings_of(caplog)
    with pytest.raises(ValueError, match="snapshots_per_epoch"):
        loaded._select("ambiguous")


def test_examples_observed_once_have_no_region_in_a_longer_map(caplog):
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(30, 3, 2))
    logits[:6, 1:] = np.nan  # rows 0-5: recorded in the first epoch only
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        data_map = DataMap.from_logits(logits, np.arange(30) % 2)
    table = data_map.table
    assert table["region"].iloc[:6].isna().all() and table["region"].iloc[6:].notna().all()
    assert (table["region"] == "ambiguous").sum() == 8  # a third of the 24 examples observed three times
    assert "6 of the 30 examples were observed once" in warnings_of(caplog)
    variability = data_map.scores("variability")
    assert variability.iloc[:6].isna().all() and variability.iloc[6:].notna().all()
    selected = data_map._select("ambiguous", fraction=0.5)  # more than the region: extras never observed once
    assert len(selected) == 15 and not set(selected) & set(range(6))


def test_snapshots_within_one_epoch_give_regions():
    rng = np.random.default_rng(2)
    p_gold = rng.uniform(size=(9, 2))  # two snapshots of one epoch: mode="eval", snapshots_per_epoch=2
    data_map = DataMap.from_arrays(p_gold, p_gold > 0.5, 2 * p_gold - 1, np.zeros(9), metadata={"epochs_used": [0, 0]})
    assert (data_map.table["region"] == "ambiguous").sum() == 3
    assert len(data_map._select("ambiguous")) == 3


# --- 2. examples never recorded ------------------------------------------------------------------------------

def test_examples_never_recorded_get_nan_metrics_and_no_region(caplog, tmp_path):
    rng = np.random.default_rng(3)
    p_gold = rng.uniform(size=(10, 3))
    p_gold[[2, 7]] = np.nan  # e.g. dataloader_drop_last=True dropped them every epoch
    data_map = DataMap.from_arrays(p_gold, p_gold > 0.5, 2 * p_gold - 1, np.zeros(10))
    never = data_map.table.loc[[2, 7]]
    assert never[["confidence", "variability", "correctness", "aum"]].isna().all().all()
    assert never["region"].isna().all() and (never["observations"] == 0).all()
    assert not set(data_map._select("hard-to-learn", fraction=0.8)[:8]) & {2, 7}  # ranked last, if at all

    data_map.save(tmp_path / "map")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        loaded = DataMap.load(tmp_path / "map")
    assert loaded.table.loc[[2, 7], "region"].isna().all()
    assert "2 of the 10 examples" in warnings_of(caplog) and "dataloader_drop_last" in warnings_of(caplog)


# --- 3. damaged map files ------------------------------------------------------------------------------------

def test_num_examples_smaller_than_the_epoch_files_is_an_error(tmp_path):
    path = saved_map(tmp_path)
    edit_metadata(path, num_examples=10)
    with pytest.raises(ValueError, match=r"metadata.json.*num_examples=10.*examples.parquet.*lists 12 examples"):
        DataMap.load(path)
    (path / "examples.parquet").unlink()  # a map without it (older format): the epoch files tell
    with pytest.raises(ValueError, match=r"epoch_000.parquet.*records example row 1[01].*metadata.json.*"
                                         r"num_examples=10"):
        DataMap.load(path)


def test_num_examples_larger_than_the_epoch_files_is_reported(tmp_path, caplog):
    path = tmp_path / "map"
    logits_map(12).save(path)  # keyed by row position
    (path / "examples.parquet").unlink()
    edit_metadata(path, num_examples=20)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        data_map = DataMap.load(path)
    assert len(data_map) == 20 and data_map.table["region"].iloc[12:].isna().all()
    assert "8 of the 20 examples" in warnings_of(caplog) and "metadata.json" in warnings_of(caplog)


@pytest.mark.parametrize("text", ['{"mode": "train", "num_examples": 1', "", '["not", "an", "object"]',
                                  '{"mode": "train"}'])
def test_truncated_or_invalid_metadata_names_the_file(tmp_path, text):
    path = saved_map(tmp_path)
    (path / "metadata.json").write_text(text)
    with pytest.raises(ValueError, match=r"map[/\\]metadata.json"):
        DataMap.load(path)


def test_epoch_file_without_a_column_names_the_file_and_column(tmp_path):
    path = saved_map(tmp_path)
    table = pq.read_table(epoch_path(path, 1))
    pq.write_table(table.drop_columns(["margin"]), epoch_path(path, 1))
    with pytest.raises(ValueError, match=r"epoch_001.parquet.*lacks the column\(s\) \['margin'\]"):
        DataMap.load(path)


def test_corrupt_parquet_names_the_file(tmp_path):
    path = saved_map(tmp_path, n=4000, epochs=2)
    data = bytearray(epoch_path(path, 1).read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4000] = b"\xa5" * 4000
    epoch_path(path, 1).write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"epoch_001.parquet.*not a readable Parquet file"):
        DataMap.load(path)
    epoch_path(path, 1).write_bytes(bytes(data[:middle]))  # truncated: no footer
    with pytest.raises(ValueError, match=r"epoch_001.parquet.*not a readable Parquet file"):
        DataMap.load(path)


def test_an_epoch_with_fewer_examples_is_reported_with_the_counts(tmp_path, caplog):
    path = saved_map(tmp_path)
    table = pq.read_table(epoch_path(path, 2))
    pq.write_table(table.slice(0, 5), epoch_path(path, 2))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        DataMap.load(path)
    assert "epochs [2] record fewer examples" in warnings_of(caplog)
    assert "{0: 12, 1: 12, 2: 5}" in warnings_of(caplog)


@pytest.mark.parametrize("removed", [0, 1])
def test_a_gap_in_the_epochs_is_reported(tmp_path, caplog, removed):
    path = saved_map(tmp_path)
    epoch_path(path, removed).unlink()
    edit_metadata(path, epochs=[e for e in range(3) if e != removed])
    metadata = json.loads((path / "metadata.json").read_text())
    del metadata["epochs_used"]  # as written by DataMapCallback
    (path / "metadata.json").write_text(json.dumps(metadata))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        DataMap.load(path)
    assert f"epochs [{removed}] have no file" in warnings_of(caplog)


def test_a_complete_map_and_a_saved_burn_in_load_without_warnings(tmp_path, caplog):
    path = saved_map(tmp_path)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        DataMap.load(path)
        DataMap.load(path, burn_in=1).save(tmp_path / "late")
        late = DataMap.load(tmp_path / "late")
    assert late.metadata["epochs_used"] == [1, 2] and warnings_of(caplog) == ""


# --- 4. allenai/cartography JSONL ----------------------------------------------------------------------------

def write_jsonl(folder, epoch, records):
    folder.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    (folder / f"dynamics_epoch_{epoch}.jsonl").write_text("\n".join(lines) + "\n")


def record(guid, logits, gold, epoch=0):
    return {"guid": guid, f"logits_epoch_{epoch}": logits, "gold": gold}


def good_epoch(epoch, n=4):
    return [record(f"g{i}", [0.1 * i, -0.2], i % 2, epoch) for i in range(n)]


def test_valid_jsonl_still_loads(tmp_path):
    for epoch in range(2):
        write_jsonl(tmp_path, epoch, good_epoch(epoch)[::-1] if epoch else good_epoch(epoch))
    data_map = DataMap.from_cartography_jsonl(tmp_path)
    assert list(data_map.table.index) == ["g0", "g1", "g2", "g3"] and (data_map.table["observations"] == 2).all()


@pytest.mark.parametrize(("line", "problem"), [
    ('{"guid": "g2", "logits_epoch_1": [0.1, 0.2], "gold": ', "not a valid JSON line"),  # truncated
    ("not json at all", "not a valid JSON line"),
    ('["g2", [0.1, 0.2], 0]', "lacks 'guid', 'gold' or 'logits_epoch_1'"),
])
def test_malformed_jsonl_names_the_file_and_line(tmp_path, line, problem):
    write_jsonl(tmp_path, 0, good_epoch(0))
    records = good_epoch(1)
    write_jsonl(tmp_path, 1, [*records[:2], "", line, records[3]])  # the blank line still counts
    with pytest.raises(ValueError, match=rf"dynamics_epoch_1.jsonl:4.*{problem}"):
        DataMap.from_cartography_jsonl(tmp_path)


def test_truncated_last_line_of_jsonl_names_the_line(tmp_path):
    write_jsonl(tmp_path, 0, good_epoch(0))
    path = tmp_path / "dynamics_epoch_0.jsonl"
    path.write_text(path.read_text()[:-12])
    with pytest.raises(ValueError, match=r"dynamics_epoch_0.jsonl:4: not a valid JSON line.*truncated"):
        read_cartography_jsonl(tmp_path)


@pytest.mark.parametrize("epoch", [0, 1])
def test_guid_repeated_in_an_epoch_names_guid_file_and_lines(tmp_path, epoch):
    for e in range(2):
        records = good_epoch(e)
        if e == epoch:
            records.append(record("g1", [0.0, 0.0], 1, e))
        write_jsonl(tmp_path, e, records)
    with pytest.raises(ValueError, match=rf"dynamics_epoch_{epoch}.jsonl:5: guid 'g1' appears again \(first at "
                                         r"line 2\)"):
        DataMap.from_cartography_jsonl(tmp_path)


def test_gold_label_changing_between_epochs_is_an_error(tmp_path):
    write_jsonl(tmp_path, 0, good_epoch(0))
    records = good_epoch(1)
    records[2]["gold"] = 1
    write_jsonl(tmp_path, 1, records)
    with pytest.raises(ValueError, match=r"dynamics_epoch_1.jsonl:3: gold of guid 'g2' is 1, but "
                                         r".*dynamics_epoch_0.jsonl:3 gives 0"):
        DataMap.from_cartography_jsonl(tmp_path)


def test_guid_missing_from_the_first_epoch_names_the_line(tmp_path):
    write_jsonl(tmp_path, 0, good_epoch(0))
    write_jsonl(tmp_path, 1, [*good_epoch(1), record("new", [0.0, 1.0], 0, 1)])
    with pytest.raises(ValueError, match=r"dynamics_epoch_1.jsonl:5: guid 'new' is not in the first epoch"):
        DataMap.from_cartography_jsonl(tmp_path)


@pytest.mark.parametrize(("bad", "problem"), [
    (record("g9", [0.1, 0.2], 2), r"gold 2 is not a class id.*\[0, 1\]"),
    (record("g9", [0.1, 0.2], -1), "gold -1 is not a class id"),
    (record("g9", [0.1, 0.2], None), "gold None is not a class id"),
    (record("g9", [0.1, 0.2], 1.5), "gold 1.5 is not a class id"),
    (record("g9", [0.1, 0.2, 0.3], 0), "has 3 logits, but the line at .*dynamics_epoch_0.jsonl:1 has 2"),
    (record("g9", [0.1, None], 0), "must be a non-empty list of finite numbers"),
    (record("g9", [0.1, float("nan")], 0), "must be a non-empty list of finite numbers"),
    (record("g9", [], 0), "must be a non-empty list of finite numbers"),
    (record(None, [0.1, 0.2], 0), "guid None is not a string or an integer"),
    (record(["g", 9], [0.1, 0.2], 0), "is not a string or an integer"),
    (record(9, [0.1, 0.2], 0), "guid 9 is a int, but the guid at .*:1 is a str"),
])
def test_bad_jsonl_values_name_the_file_and_line(tmp_path, bad, problem):
    write_jsonl(tmp_path, 0, [*good_epoch(0), bad])
    with pytest.raises(ValueError, match=rf"dynamics_epoch_0.jsonl:5: .*{problem}"):
        DataMap.from_cartography_jsonl(tmp_path)


def test_empty_jsonl_epoch_is_an_error(tmp_path):
    write_jsonl(tmp_path, 0, good_epoch(0))
    (tmp_path / "dynamics_epoch_1.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="dynamics_epoch_1.jsonl' holds no records"):
        DataMap.from_cartography_jsonl(tmp_path)


# --- 5. from_arrays / from_logits ----------------------------------------------------------------------------

def test_from_logits_rejects_bad_input_with_the_argument_named():
    rng = np.random.default_rng(4)
    logits, gold = rng.normal(size=(5, 2, 3)), np.array([0, 1, 2, 0, 1])
    with pytest.raises(ValueError, match=r"logits must have shape \(num_examples, num_time_points, num_labels\)"):
        DataMap.from_logits(logits[:, 0], gold)
    with pytest.raises(ValueError, match="at least 2 labels"):
        DataMap.from_logits(logits[:, :, :1], gold)
    broken = logits.copy()
    broken[3, 1, 2] = np.nan  # one NaN logit is not a missing record
    with pytest.raises(ValueError, match=r"logits\[3, 1\].*NaN or infinite"):
        DataMap.from_logits(broken, gold)
    broken[3, 1, 2] = np.inf
    with pytest.raises(ValueError, match=r"logits\[3, 1\]"):
        DataMap.from_logits(broken, gold)
    with pytest.raises(ValueError, match=r"logits\[0, 0\] = \[0.0, nan\]"):  # None reads as NaN
        DataMap.from_logits([[[0.0, None]]], [0])
    with pytest.raises(ValueError, match=r"logits must be an array of numbers"):
        DataMap.from_logits([[[0.0, "x"]]], [0])
    with pytest.raises(ValueError, match=r"gold\[2\] = 3 is not a class id: gold must be in \[0, 2\] for 3 labels"):
        DataMap.from_logits(logits, [0, 1, 3, 0, 1])
    with pytest.raises(ValueError, match=r"gold\[0\] = -1"):
        DataMap.from_logits(logits, [-1, 1, 2, 0, 1])
    with pytest.raises(ValueError, match=r"gold\[1\] is None"):
        DataMap.from_logits(logits, [0, None, 2, 0, 1])
    with pytest.raises(ValueError, match=r"gold must hold class ids.*str2int"):
        DataMap.from_logits(logits, ["a", "b", "c", "a", "b"])
    with pytest.raises(ValueError, match=r"gold\[2\] = 1.5"):
        DataMap.from_logits(logits, [0, 1, 1.5, 0, 1])
    with pytest.raises(ValueError, match=r"gold must hold one label per example: shape \(5,\)"):
        DataMap.from_logits(logits, [0, 1])
    with pytest.raises(ValueError, match=r"ids\[1\] is None"):
        DataMap.from_logits(logits, gold, ids=["a", None, "c", "d", "e"])
    with pytest.raises(ValueError, match=r"one distinct id.*\['a'\]"):
        DataMap.from_logits(logits, gold, ids=["a", "b", "a", "d", "e"])
    with pytest.raises(ValueError, match="ids mix strings and integers"):
        DataMap.from_logits(logits, gold, ids=["a", 1, "c", "d", "e"])
    with pytest.raises(ValueError, match="ids must be strings or integers"):
        DataMap.from_logits(logits, gold, ids=[0.5, 1.5, 2.5, 3.5, 4.5])
    missing = logits.copy()
    missing[4, 0] = np.nan  # a whole row of NaN: not recorded at that time point
    assert DataMap.from_logits(missing, gold).table["observations"].tolist() == [2, 2, 2, 2, 1]


def test_from_arrays_rejects_bad_input_with_the_argument_named():
    p_gold = np.full((4, 2), 0.6)
    correct, margin, gold = p_gold > 0.5, np.ones((4, 2)), np.zeros(4)
    with pytest.raises(ValueError, match=r"p_gold must hold probabilities in \[0, 1\]"):
        DataMap.from_arrays(p_gold * 2, correct, margin, gold)
    with pytest.raises(ValueError, match=r"same .* shape; got \(4, 2\), \(4, 2\) and \(4, 1\)"):
        DataMap.from_arrays(p_gold, correct, margin[:, :1], gold)
    with pytest.raises(ValueError, match="margin must be finite"):
        DataMap.from_arrays(p_gold, correct, np.where(np.eye(4, 2) > 0, np.nan, 1.0), gold)
    with pytest.raises(ValueError, match=r"probabilities must have shape .*\(4, 2, num_labels\); got \(4, 2\)"):
        DataMap.from_arrays(p_gold, correct, margin, gold, probabilities=p_gold)
    probabilities = np.stack([p_gold, 1 - p_gold], axis=-1)
    with pytest.raises(ValueError, match=r"gold\[3\] = 2 is not a class id"):
        DataMap.from_arrays(p_gold, correct, margin, [0, 1, 0, 2], probabilities=probabilities)
    with pytest.raises(ValueError, match=r"gold\[0\] = -1"):
        DataMap.from_arrays(p_gold, correct, margin, [-1, 0, 0, 0])
    with pytest.raises(ValueError, match=r"ids\[2\] is None"):
        DataMap.from_arrays(p_gold, correct, margin, gold, ids=[1, 2, None, 4])
    built = DataMap.from_arrays(p_gold, correct, margin, gold, ids=np.array([10, 11, 12, 13]))
    assert list(built.table.index) == [10, 11, 12, 13] and isinstance(built.table, pd.DataFrame)
