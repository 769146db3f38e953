"""Resuming never loses or mislabels a record: crashes at every point around an epoch's end give the map of an
uninterrupted run, complete epoch files survive a later resume, and what cannot be completed is written down."""
import errno
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from datamap_fixtures import frozen_model, make_trainer, tiny_dataset
from transformers import TrainerCallback

from greennlp._files import exclusive_folder
from greennlp.datamaps import DataMap, DataMapCallback, DataMapError
from greennlp.datamaps import recorder as recorder_module
from greennlp.datamaps.recorder import DynamicsRecorder
from greennlp.datamaps.regions import REGIONS
from greennlp.datamaps.storage import epoch_path, read_metadata, read_table, write_table

# 45 examples, batch 8: 6 steps per epoch. A learning model, so a record from the wrong step or epoch shows.
SETTINGS = dict(learning_rate=5e-3, num_train_epochs=2, save_strategy="steps", per_device_train_batch_size=8)
METRICS = ("confidence", "variability", "correctness", "aum")


class CrashAt(TrainerCallback):
    """Raise in ``on_step_end`` of ``step``, or in ``on_epoch_end`` of the epoch ending at ``epoch_end``."""

    def __init__(self, step=None, epoch_end=None):
        self.step, self.epoch_end = step, epoch_end

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise RuntimeError(f"crash at step {self.step}")

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.epoch_end is not None and round(state.epoch) == self.epoch_end + 1:
            raise RuntimeError(f"crash at the end of epoch {self.epoch_end}")


class StopAt(TrainerCallback):
    """Stop training right after the checkpoint of ``step``."""

    def __init__(self, step):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True


def train(tokenizer, dataset, tmp_path, callbacks, resume=False, mode="train", overwrite=False, **overrides):
    """One run into ``tmp_path/map`` (checkpoints in ``tmp_path/run``), the DataMapCallback placed last.

    A resumed run saves no further checkpoints (they cost more than training this model).
    """
    callback = DataMapCallback(tmp_path / "map", mode=mode, overwrite=overwrite)
    settings = {**SETTINGS, **({"save_strategy": "no"} if resume else {}), **overrides}
    trainer = make_trainer(frozen_model(tokenizer), tokenizer, dataset, tmp_path / "run", [*callbacks, callback],
                           **settings)
    trainer.train(resume_from_checkpoint=True if resume else None)


@pytest.fixture(scope="module")
def uninterrupted(tiny_tokenizer, tmp_path_factory):
    """The maps of uninterrupted runs, by mode."""
    maps = {}
    for mode in ("train", "eval"):
        folder = tmp_path_factory.mktemp(f"uninterrupted_{mode}")
        train(tiny_tokenizer, tiny_dataset(tiny_tokenizer), folder, [], mode=mode, save_strategy="no")
        maps[mode] = DataMap.load(folder / "map").table
    return maps


def partial_records(folder):
    return list((folder / "map" / "partial").glob("*.parquet"))


def assert_same_map(folder, expected):
    table = DataMap.load(folder / "map").table
    assert (table["observations"] == expected["observations"]).all()
    for column in METRICS:
        np.testing.assert_allclose(table[column], expected[column], atol=1e-4, err_msg=column)
    assert not partial_records(folder), "a finished run leaves no partial records"
    records = read_metadata(folder / "map")["epoch_records"]
    assert records == {str(e): {"recorded": 45, "examples": 45, "complete": True} for e in range(2)}


def test_crash_in_another_callbacks_epoch_end_after_the_epoch_checkpoint(tiny_tokenizer, dataset, tmp_path,
                                                                          uninterrupted):
    # Checkpoint at step 6, the last step of epoch 0; the crashing callback runs before DataMapCallback's
    # on_epoch_end. The epoch must already be on disk, and its records must not become epoch 1's.
    with pytest.raises(RuntimeError, match="end of epoch 0"):
        train(tiny_tokenizer, dataset, tmp_path, [CrashAt(epoch_end=0)], save_steps=6)
    assert epoch_path(tmp_path / "map", 0).is_file()
    train(tiny_tokenizer, dataset, tmp_path, [], resume=True)
    assert_same_map(tmp_path, uninterrupted["train"])


def test_full_disk_while_writing_an_epoch(tiny_tokenizer, dataset, tmp_path, uninterrupted, monkeypatch):
    write_table = recorder_module.write_table

    def disk_full_for_epochs(path, columns, *args, **kwargs):
        if Path(path).parent.name == "dynamics":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write_table(path, columns, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(recorder_module, "write_table", disk_full_for_epochs)
        with pytest.raises(OSError, match="No space left"):
            train(tiny_tokenizer, dataset, tmp_path, [], save_steps=3)
    train(tiny_tokenizer, dataset, tmp_path, [], resume=True)
    assert_same_map(tmp_path, uninterrupted["train"])
    # The failed write came before the checkpoint of the epoch's last step: training resumed from step 3.
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint-3"]


def test_resume_from_before_a_written_epoch_keeps_it(tiny_tokenizer, dataset, tmp_path, uninterrupted, caplog):
    # Checkpoint at step 5; epoch 0 is written at step 6; crash at 7, resume from step 5 (inside epoch 0).
    with pytest.raises(RuntimeError, match="step 7"):
        train(tiny_tokenizer, dataset, tmp_path, [CrashAt(step=7)], save_steps=5)
    written = epoch_path(tmp_path / "map", 0)
    before = read_table(written)
    inode = written.stat().st_ino
    with caplog.at_level(logging.WARNING, logger="greennlp"):
        train(tiny_tokenizer, dataset, tmp_path, [], resume=True)
    assert written.stat().st_ino == inode, "the complete epoch-0 file was replaced"
    for name, column in read_table(written).items():
        np.testing.assert_array_equal(column, before[name], err_msg=name)
    assert "miss" not in caplog.text
    assert_same_map(tmp_path, uninterrupted["train"])


@pytest.mark.parametrize("interrupt", ["crash", "stop"])
def test_eval_mode_resume_mid_epoch(tiny_tokenizer, dataset, tmp_path, uninterrupted, caplog, interrupt):
    # A clean pass runs only at the epoch's end, so a checkpoint mid-epoch has nothing to miss (no false warning),
    # and a run stopped mid-epoch takes no clean pass there (it would stand for the epoch's end).
    first = [CrashAt(step=10)] if interrupt == "crash" else [StopAt(9)]
    if interrupt == "crash":
        with pytest.raises(RuntimeError):
            train(tiny_tokenizer, dataset, tmp_path, first, mode="eval", save_steps=9)
    else:
        train(tiny_tokenizer, dataset, tmp_path, first, mode="eval", save_steps=9)
    with caplog.at_level(logging.WARNING, logger="greennlp"):
        train(tiny_tokenizer, dataset, tmp_path, [], resume=True, mode="eval")
    assert "miss" not in caplog.text
    assert_same_map(tmp_path, uninterrupted["eval"])


def test_an_epoch_that_cannot_be_completed_is_marked(tiny_tokenizer, dataset, tmp_path, caplog):
    train(tiny_tokenizer, dataset, tmp_path, [StopAt(9)], save_steps=9)
    for path in partial_records(tmp_path):  # lost: the record of steps 7-9 of epoch 1
        path.unlink()
    with caplog.at_level(logging.WARNING, logger="greennlp"):
        train(tiny_tokenizer, dataset, tmp_path, [], resume=True)
    assert "epoch 1 of the map will miss" in caplog.text
    records = read_metadata(tmp_path / "map")["epoch_records"]
    assert records["0"] == {"recorded": 45, "examples": 45, "complete": True}
    assert records["1"]["complete"] is False and records["1"]["examples"] == 45
    assert records["1"]["recorded"] == len(read_table(epoch_path(tmp_path / "map", 1))["row"]) < 45
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="greennlp"):
        DataMap.load(tmp_path / "map")
    assert "epochs [1] were resumed without the record of their first part" in caplog.text
    assert f"{records['1']['recorded']}/45" in caplog.text


def test_a_fresh_run_and_save_remove_what_killed_writes_left(tiny_tokenizer, dataset, tmp_path):
    train(tiny_tokenizer, dataset, tmp_path, [])
    leftovers = [tmp_path / "map" / "dynamics" / ".epoch_000.parquet.abcd1234.parquet",
                 tmp_path / "map" / ".metadata.json.x1y2z3w4.json"]
    for path in leftovers:
        path.write_bytes(b"half a file")
    keep = tmp_path / "map" / ".user-notes"
    keep.write_text("mine")
    train(tiny_tokenizer, dataset, tmp_path, [], overwrite=True)
    assert not any(path.exists() for path in leftovers) and keep.read_text() == "mine"
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / ".metadata.json.q1w2e3r4.json").write_bytes(b"half")
    DataMap.from_logits(np.zeros((3, 2, 2)), [0, 1, 0]).save(saved, overwrite=True)
    assert not (saved / ".metadata.json.q1w2e3r4.json").exists()


def test_record_of_the_epoch_ended_by_the_checkpoint_is_recovered(tiny_tokenizer, dataset, tmp_path,
                                                                  uninterrupted):
    # Earlier versions left a crashed epoch's whole record as the partial record of its last step's checkpoint.
    train(tiny_tokenizer, dataset, tmp_path, [StopAt(6)], save_steps=6)
    epoch_file = epoch_path(tmp_path / "map", 0)
    columns = read_table(epoch_file)
    legacy = {"key": columns["row"], **{n: columns[n] for n in ("gold", "p_gold", "correct", "margin", "snapshot")},
              "epoch": np.zeros(45, dtype=np.int32)}  # keys are rows: the examples' tokens are all distinct
    write_table(tmp_path / "map" / "partial" / "step_00000006.parquet", legacy)
    epoch_file.unlink()
    train(tiny_tokenizer, dataset, tmp_path, [], resume=True)
    assert_same_map(tmp_path, uninterrupted["train"])


def test_a_partial_record_of_another_epoch_is_never_restored(tmp_path):
    from greennlp.datamaps.recorder import PartialRecordError

    recorder = DynamicsRecorder(tmp_path, num_examples=4)
    columns = {"key": np.arange(3), "gold": np.zeros(3, dtype=np.int64), "p_gold": np.full(3, 0.5, np.float32),
               "correct": np.ones(3, dtype=bool), "margin": np.zeros(3, np.float32), "snapshot": np.zeros(3, np.int16)}
    recorder.save_partial(12, 0, columns)
    with pytest.raises(PartialRecordError, match="epoch 0.*step 12 is in epoch 1"):
        recorder.load_partial(12, 1)
    assert len(recorder) == 0
    assert recorder.load_partial(12, 0) == {"epoch": 0, "records": 3, "complete": True, "global_step": 12}
    assert len(recorder) == 3
    assert recorder.load_partial(11, 0) is None


def test_dropped_last_batch_leaves_unrecorded_examples_out_of_every_region(tiny_tokenizer, dataset, tmp_path):
    # In order, batch 8, last partial batch dropped: examples 40-44 are never seen.
    callback = DataMapCallback(tmp_path / "map")
    make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "run", [callback],
                 learning_rate=5e-3, per_device_train_batch_size=8, train_sampling_strategy="sequential",
                 dataloader_drop_last=True).train()
    assert read_metadata(tmp_path / "map")["epoch_records"]["0"] == {"recorded": 40, "examples": 45,
                                                                      "complete": True}
    table = DataMap.load(tmp_path / "map").table
    assert table["confidence"].iloc[:40].notna().all() and table["confidence"].iloc[40:].isna().all()
    assert table["region"].iloc[:40].isin(list(REGIONS)).all()
    assert not table["region"].iloc[40:].isin(list(REGIONS)).any()


# --- input a map cannot be made from ----------------------------------------------------------------------

def test_empty_training_dataset_is_an_error(tiny_tokenizer, dataset, tmp_path):
    # No event passes the dataset before the Trainer builds its sampler, which refuses an empty dataset itself (a
    # ValueError about num_samples=0); a dataloader that gets as far as on_train_begin is refused there.
    callback = DataMapCallback(tmp_path / "map")
    trainer = make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "run", [callback])
    empty = torch.utils.data.DataLoader(dataset.select([]), batch_size=4)
    with pytest.raises(DataMapError, match="training dataset is empty"):
        callback.on_train_begin(trainer.args, trainer.state, trainer.control, model=trainer.model,
                                train_dataloader=empty)
    with exclusive_folder(tmp_path / "map", owner="test"):  # the failed start let go of the folder
        pass


def test_missing_id_is_an_error_naming_column_and_row(tiny_tokenizer, dataset, tmp_path):
    holed = dataset.map(lambda row, i: {"guid": None if i == 3 else row["guid"]}, with_indices=True)
    trainer = make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, holed, tmp_path / "run",
                           [DataMapCallback(tmp_path / "map", id_column="guid")], keep_ids=True)
    with pytest.raises(DataMapError, match="id_column='guid' has no id .* at row 3"):
        trainer.train()
