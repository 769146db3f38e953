"""DataMap files and datasets: save/load symmetry, JSONL export without the source folder, matching a reordered
dataset by content, one writer per output folder, a loaded map that stays the one on disk at load (also while
another thread saves), and a failed overwrite that keeps the old map."""
import gc
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from datamap_fixtures import frozen_model, make_trainer, tiny_dataset

from greennlp._files import FolderInUseError, exclusive_folder
from greennlp.datamaps import DataMap, DataMapCallback
from greennlp.filters import select_by_region, select_stratified


def assert_same_map(first: DataMap, second: DataMap) -> None:
    pd.testing.assert_frame_equal(first.table, second.table)
    assert first.id_column == second.id_column and first.region_fraction == second.region_fraction


def test_save_and_load_give_back_the_same_map(tmp_path):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(20, 4, 3))
    logits[3, 1] = np.nan  # a missing record
    built = DataMap.from_logits(logits, rng.integers(0, 3, 20), ids=[f"s{i}" for i in range(20)],
                                id_column="guid", region_fraction=0.25)
    loaded = DataMap.load(built.save(tmp_path / "map"))
    assert_same_map(built, loaded)
    assert loaded.metadata["epochs_used"] == [0, 1, 2, 3]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        built.save(tmp_path / "map")
    late = DataMap.load(tmp_path / "map", burn_in=2)
    assert_same_map(late, DataMap.load(late.save(tmp_path / "late")))
    assert DataMap.load(tmp_path / "late").metadata["epochs_used"] == [2, 3]
    with pytest.raises(ValueError, match="save it to another folder"):
        late.save(tmp_path / "map", overwrite=True)
    positions = DataMap.from_arrays(rng.random((6, 2)), rng.random((6, 2)) > 0.5, rng.normal(size=(6, 2)), np.ones(6))
    assert_same_map(positions, DataMap.load(positions.save(tmp_path / "positions")))
    assert positions.id_column is None and positions.table.index.name == "row"


def test_jsonl_export_needs_no_source_folder(tmp_path):
    rng = np.random.default_rng(1)
    built = DataMap.from_logits(rng.normal(size=(10, 3, 4)), rng.integers(0, 4, 10), ids=np.arange(50, 60),
                                id_column="idx")
    built.to_cartography_jsonl(tmp_path / "jsonl")
    again = DataMap.from_cartography_jsonl(tmp_path / "jsonl", id_column="idx")
    pd.testing.assert_frame_equal(built.table.sort_index(), again.table.sort_index(), atol=1e-6)
    saved = DataMap.load(again.save(tmp_path / "saved"))
    paths = saved.to_cartography_jsonl(tmp_path / "jsonl2")
    assert [p.name for p in paths] == [f"dynamics_epoch_{e}.jsonl" for e in range(3)]
    with pytest.raises(ValueError, match="built from a table alone"):
        DataMap(built.table.drop(columns="region")).save(tmp_path / "table_only")


def test_a_reordered_dataset_is_matched_by_content_or_refused(tiny_tokenizer, tmp_path):
    dataset = tiny_dataset(tiny_tokenizer, n=30)
    make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "run",
                 [DataMapCallback(tmp_path / "map")], learning_rate=1e-2, num_train_epochs=2).train()
    data_map = DataMap.load(tmp_path / "map")  # keyed by row position, with token fingerprints
    expected = sorted(np.asarray(dataset["guid"])[np.asarray(data_map._select("ambiguous", fraction=0.33))])
    in_order = select_by_region(dataset, data_map, "ambiguous", fraction=0.33)
    shuffled = select_by_region(dataset.shuffle(seed=1), data_map, "ambiguous", fraction=0.33)
    assert sorted(in_order["guid"]) == sorted(shuffled["guid"]) == expected
    copy = DataMap.load(data_map.save(tmp_path / "copy"))  # fingerprints travel with the map
    assert sorted(select_by_region(dataset.shuffle(seed=2), copy, "ambiguous", fraction=0.33)["guid"]) == expected
    raw = dataset.remove_columns(["input_ids", "attention_mask"])
    assert sorted(select_by_region(raw, data_map, "ambiguous", fraction=0.33)["guid"]) == expected
    with pytest.raises(ValueError, match="differs from the map's gold label"):
        select_by_region(raw.shuffle(seed=1), data_map, "ambiguous", fraction=0.33)
    with pytest.raises(ValueError, match="no row in the dataset with the same tokens"):
        select_stratified(dataset.select(range(1, 30)), "confidence", 0.5, data_map=data_map)


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from greennlp._files import exclusive_folder
    with exclusive_folder(sys.argv[1], owner="test"):
        print("locked", flush=True)
        sys.stdin.read()
""")


def test_one_training_run_per_output_folder(tiny_tokenizer, tmp_path):
    dataset = tiny_dataset(tiny_tokenizer, n=12)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path / "map")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        trainer = make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "run",
                               [DataMapCallback(tmp_path / "map")], num_train_epochs=1)
        with pytest.raises(FolderInUseError, match="DataMapCallback"):
            trainer.train()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    # A run that raises sends no event, so its callback keeps the lock: until it trains again, or is deleted. The
    # lock is the callback's own: another callback in this process cannot take it over.
    failing = DataMapCallback(tmp_path / "map")
    trainer = make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "run", [failing],
                           num_train_epochs=1)
    trainer.add_callback(_RaiseAtFirstStep())
    with pytest.raises(RuntimeError, match="stop"):
        trainer.train()
    with pytest.raises(FolderInUseError):
        with exclusive_folder(tmp_path / "map", owner="test"):
            pass
    with pytest.raises(FolderInUseError, match="earlier run in this process that stopped with an error"):
        make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "run",
                     [DataMapCallback(tmp_path / "map", overwrite=True)], num_train_epochs=1).train()
    make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "run", [failing],
                 num_train_epochs=1).train()  # the same callback again: it lets go of its own lock first
    with exclusive_folder(tmp_path / "map", owner="test"):  # released at the end of training
        pass
    assert DataMap.load(tmp_path / "map").metadata["epochs"] == [0]
    # A callback whose run raised lets go of the folder when it is garbage collected.
    failing = DataMapCallback(tmp_path / "map", overwrite=True)
    trainer = make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "run", [failing],
                           num_train_epochs=1)
    trainer.add_callback(_RaiseAtFirstStep())
    with pytest.raises(RuntimeError, match="stop"):
        trainer.train()
    del trainer, failing
    gc.collect()
    with exclusive_folder(tmp_path / "map", owner="test"):
        pass


class _RaiseAtFirstStep:
    def __getattr__(self, name):
        if name == "on_step_end":
            def fail(*args, **kwargs):
                raise RuntimeError("stop")
            return fail
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def two_maps(n: int = 40, epochs: int = 3) -> tuple[DataMap, DataMap]:
    """Two maps of the same examples and epochs with different training dynamics."""
    rng = np.random.default_rng(7)
    gold = rng.integers(0, 2, n)
    return tuple(DataMap.from_logits(rng.normal(size=(n, epochs, 2)), gold, ids=[f"x{i}" for i in range(n)])
                 for _ in range(2))


def test_a_loaded_map_is_what_was_on_disk_when_it_was_loaded(tmp_path):
    first, second = two_maps()
    first.save(tmp_path / "map")
    loaded = DataMap.load(tmp_path / "map")
    second.save(tmp_path / "map", overwrite=True)  # the folder now holds another map
    with pytest.raises(ValueError, match=r"map.*changed since this map was loaded.*load it again"):
        loaded.save(tmp_path / "copy")
    with pytest.raises(ValueError, match="changed since this map was loaded"):
        loaded.to_cartography_jsonl(tmp_path / "jsonl")
    assert not (tmp_path / "copy" / "metadata.json").exists()
    assert_same_map(DataMap.load(tmp_path / "map"), second)
    assert_same_map(DataMap.load(DataMap.load(tmp_path / "map").save(tmp_path / "again")), second)


def test_a_load_during_saves_gets_one_whole_map(tmp_path):
    import threading
    import time

    maps = two_maps(n=200, epochs=4)
    maps[0].save(tmp_path / "map")
    stop = threading.Event()
    saves = []

    def save_in_turn() -> None:
        while not stop.is_set():
            maps[len(saves) % 2].save(tmp_path / "map", overwrite=True)
            saves.append(1)
            time.sleep(0.005)  # a busy writer, not one that never lets a reader finish (that one is refused)

    saver = threading.Thread(target=save_in_turn)
    saver.start()
    try:
        loaded = [DataMap.load(tmp_path / "map") for _ in range(40)]
    finally:
        stop.set()
        saver.join()
    assert len(saves) > 5  # the loads did overlap saves
    for data_map in loaded:
        matches = [data_map.table.equals(candidate.table) for candidate in maps]
        assert any(matches), "a load returned a table that matches neither saved map"


@pytest.mark.parametrize("failing_write", ["second table", "metadata"])
def test_a_failed_overwrite_keeps_the_old_map(tmp_path, monkeypatch, failing_write):
    import errno
    import os

    import greennlp.datamaps.datamap as datamap_module

    first, second = two_maps()
    first.save(tmp_path / "map")
    before = sorted(os.listdir(tmp_path / "map"))
    calls = []

    def full_disk(write):
        def failing(path, *args, **kwargs):
            calls.append(path)
            if failing_write == "metadata" or len(calls) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
            return write(path, *args, **kwargs)
        return failing

    name = "write_json" if failing_write == "metadata" else "write_table"
    monkeypatch.setattr(datamap_module, name, full_disk(getattr(datamap_module, name)))
    with pytest.raises(OSError, match="No space left on device"):
        second.save(tmp_path / "map", overwrite=True)
    monkeypatch.undo()
    assert_same_map(DataMap.load(tmp_path / "map"), first)
    assert sorted(os.listdir(tmp_path / "map")) == before  # nothing of the failed save is left
    second.save(tmp_path / "map", overwrite=True)
    assert_same_map(DataMap.load(tmp_path / "map"), second)
