"""``DataMapCallback``: record training dynamics inside ``transformers.Trainer`` with one line.

Default mode (``"train"``) reads the logits of the training forward pass itself through a forward hook, so
recording costs no extra forward pass (as the original cartography code does). Mode ``"eval"`` instead runs
one clean pass (dropout off) over the training set at each epoch end, or ``snapshots_per_epoch`` times per
epoch. Rows are identified by content (see :mod:`datamaps.matching`), so shuffling, length grouping,
gradient accumulation, DDP sharding and resuming need no special settings.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import weakref
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from transformers import TrainerCallback

from greennlp._files import FolderInUseError, exclusive_folder, remove_stale_temporaries, write_json

from .errors import DataMapError
from .matching import ExampleIndex, dataset_fingerprints
from .recorder import DynamicsRecorder, PartialRecordError, gather_observations, raise_if_any_rank_failed
from .storage import (
    EXAMPLES_FILE,
    FORMAT_VERSION,
    METADATA_FILE,
    epoch_path,
    list_epochs,
    read_metadata,
    write_table,
)

logger = logging.getLogger(__name__)

MODES = ("train", "eval")


class DataMapCallback(TrainerCallback):
    """Record, for every training example and epoch, p(gold), argmax == gold and the logit margin.

    Parameters
    ----------
    output_dir:
        Where the map is written: one Parquet file per epoch plus ``metadata.json``. Load it with
        ``DataMap.load(output_dir)``.
    mode:
        ``"train"`` (default) reads the training forward pass: no extra compute, but records come from a
        model in training mode (dropout on) at different points of the epoch, as in Swayamdipta et al. 2020.
        ``"eval"`` runs one clean pass over the training set at each epoch end (about 1.4x slower).
    id_column:
        A column of the training dataset with the examples' own ids (strings allowed). The ids are read from
        the dataset the Trainer batches (its ``train_dataloader``), so the column must reach it: the Trainer
        removes the columns ``model.forward`` does not take unless ``TrainingArguments(remove_unused_columns=
        False)``, with a data collator that drops the columns it does not batch (``encoders.fine_tune(...,
        keep_columns=(id_column,))`` does both). Default: row positions (a map is matched to its dataset by token
        content anyway).
    store_probabilities:
        Also store the full probability vector of each record (enables ``el2n`` and JSONL export).
    snapshots_per_epoch:
        With ``mode="eval"``, record K evenly spaced snapshots per epoch (useful for 1-3 epoch fine-tuning).
    eval_batch_size:
        Batch size of the clean pass; defaults to ``per_device_eval_batch_size``.
    overwrite:
        A fresh (not resumed) run refuses to replace a map already in ``output_dir`` unless this is True.

    Notes
    -----
    While training, the callback holds an exclusive lock on ``output_dir``: a second run writing into the same
    folder fails at once with ``FolderInUseError`` instead of mixing its epochs with this one's. The lock is this
    callback's own: released when training ends, when this callback trains again (after a run that raised, which
    sends no event), or when the callback is garbage collected.

    Under ``torchrun`` every process records its share and the first one writes; the Trainer must itself run
    data parallel (on CPU: ``TrainingArguments(ddp_backend="gloo")``), which the callback checks.

    ``trainer.train(resume_from_checkpoint=...)`` continues the map: each epoch is written at its last step,
    before that step's checkpoint; a checkpoint inside an epoch has that epoch's record so far saved beside it
    (tagged with the epoch, checked when restored); complete epoch files are never replaced by a resumed run.
    ``metadata.json`` says per epoch how many examples were recorded and whether the record is complete.

    Examples
    --------
    >>> trainer = Trainer(model=model, args=args, train_dataset=train,
    ...                   callbacks=[DataMapCallback(output_dir="maps/sst2")])   # doctest: +SKIP
    >>> trainer.train()                                                          # doctest: +SKIP
    >>> DataMap.load("maps/sst2").table                                          # doctest: +SKIP

    The same with a tiny model trained from scratch (``encoders.fine_tune`` builds the Trainer), end to end:

    >>> import tempfile
    >>> from datasets import Dataset
    >>> from greennlp.datamaps import DataMap
    >>> from greennlp.encoders import fine_tune, load_encoder, train_wordpiece_tokenizer
    >>> words = {"good": 1, "great": 1, "fine": 1, "lovely": 1, "bad": 0, "dull": 0, "poor": 0, "weak": 0}
    >>> train = Dataset.from_dict({"text": [f"a {word} {thing}" for word in words for thing in ("film", "plot")],
    ...                            "label": [label for label in words.values() for _ in range(2)]})
    >>> tokenizer = train_wordpiece_tokenizer(train["text"], vocab_size=100)
    >>> maps = tempfile.TemporaryDirectory()
    >>> trainer = fine_tune(load_encoder("tiny", tokenizer=tokenizer, seed=0), tokenizer, train, epochs=3,
    ...                     batch_size=8, callbacks=[DataMapCallback(maps.name)])
    >>> data_map = DataMap.load(maps.name)
    >>> len(data_map), data_map.table["observations"].unique().tolist()     # 16 examples, seen in 3 epochs
    (16, [3])
    >>> data_map.table.columns.tolist()
    ['confidence', 'variability', 'correctness', 'forgetfulness', 'aum', 'observations', 'gold', 'region']
    >>> maps.cleanup()
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        *,
        mode: str = "train",
        id_column: str | None = None,
        store_probabilities: bool = False,
        snapshots_per_epoch: int = 1,
        eval_batch_size: int | None = None,
        overwrite: bool = False,
    ):
        if mode not in MODES:
            raise DataMapError(f"mode must be one of {MODES}; got {mode!r}.")
        if not isinstance(snapshots_per_epoch, int) or snapshots_per_epoch < 1:
            raise DataMapError(f"snapshots_per_epoch must be a positive integer; got {snapshots_per_epoch!r}.")
        if snapshots_per_epoch > 1 and mode != "eval":
            raise DataMapError(
                "snapshots_per_epoch > 1 needs mode='eval': the training pass sees each example once per epoch."
            )
        self.output_dir = Path(output_dir)
        self.mode = mode
        self.id_column = id_column
        self.store_probabilities = store_probabilities
        self.snapshots_per_epoch = snapshots_per_epoch
        self.eval_batch_size = eval_batch_size
        self.overwrite = overwrite
        # The state of one training run, (re)set by on_train_begin from the events' arguments.
        self._recorder: DynamicsRecorder | None = None
        self._hook = None  # mode="train": the forward hook on the model
        self._model = None  # mode="eval": the model, arguments and dataloader of the clean passes
        self._args = None
        self._dataloader: DataLoader | None = None
        self._num_labels: int | None = None
        self._is_writer = True  # the first process writes the files; the others only record
        self._metadata: dict[str, Any] = {}  # metadata.json as written
        self._epoch = 0
        self._snapshot_steps: list[int] = []
        self._checked_first_batch = False
        self._record_complete = True  # the current epoch's record covers it from its first step
        self._kept_epochs: set[int] = set()  # complete epoch files a resumed run keeps instead of re-recording
        self._epoch_records: dict[str, dict[str, Any]] = {}  # metadata.json "epoch_records"
        # One writer per output_dir: this callback's lock on it while it trains, and what releases the lock if
        # the callback is garbage collected while holding it.
        self._lock: contextlib.ExitStack | None = None
        self._lock_finalizer: weakref.finalize | None = None

    # --- Trainer events ------------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        # transformers passes the model and the training dataloader (whose dataset is train_dataset without the
        # columns the Trainer removed) to every event from on_train_begin on; on_init_end gets no dataset.
        if train_dataloader is None or model is None:
            raise DataMapError("DataMapCallback needs a Trainer with a train_dataset.")
        _check_trainer_runs_every_process(args)  # each process fails alike: no collective needed
        self._is_writer = state.is_world_process_zero
        error = None
        try:
            try:
                if self._is_writer:
                    self._acquire_folder()
                self._begin(args, state, model, train_dataloader)
            except Exception as exc:  # under DDP every rank must hear of it, or the others hang at the first sync
                error = exc
            raise_if_any_rank_failed(error, "on_train_begin")
        except BaseException:
            self._release_folder()
            raise

    def _begin(self, args, state, model, train_dataloader) -> None:
        self._dataloader = train_dataloader
        dataset = train_dataloader.dataset
        if isinstance(dataset, torch.utils.data.IterableDataset):
            raise DataMapError(
                "DataMapCallback needs a map-style training dataset (a datasets.Dataset with a length): a data "
                "map has one row per example. Streaming (IterableDataset) training is not supported."
            )
        _check_not_empty(dataset)
        self._check_model(model)
        ids = self._example_ids(dataset, args)
        index = ExampleIndex.from_dataset(dataset) if self.mode == "train" else None
        self._recorder = DynamicsRecorder(self.output_dir, len(dataset), index, ids, self.store_probabilities)
        self._resume(args, state)
        self._write_examples(dataset, index, ids)
        self._write_metadata(args, state, model, len(dataset))
        if self.mode == "train":
            self._hook = model.register_forward_hook(self._on_forward, with_kwargs=True)
        else:
            self._model = model
            self._args = args
        self._checked_first_batch = False

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._epoch = _epoch_index(state.epoch)
        self._snapshot_steps = self._snapshot_steps_of(self._epoch, args)

    def on_step_end(self, args, state, control, **kwargs):
        if self.mode == "eval" and state.global_step in self._snapshot_steps:
            self._clean_pass(snapshot=self._snapshot_steps.index(state.global_step))
        if _is_whole(state.epoch) and _epoch_index(state.epoch) == self._epoch + 1:
            # The epoch's last step. The Trainer saves this step's checkpoint right after on_step_end and calls
            # on_epoch_end only after that, so the epoch is written here: no checkpoint ever ends an epoch whose
            # record is not on disk yet, whatever crashes next (another callback, a full disk, a kill).
            self._finish_epoch(state)

    def on_epoch_end(self, args, state, control, **kwargs):
        if _is_whole(state.epoch):
            if _epoch_index(state.epoch) == self._epoch + 1:  # not finished at its last step (no step ran)
                self._finish_epoch(state)
            return
        # Stopped mid-epoch (interrupted, or max_steps): an unfinished epoch is not a time point of the map.
        # Keep what was seen as a partial record, which a resumed run continues.
        observations = gather_observations(self._recorder.take())
        if observations is not None and len(observations["key"]):
            self._recorder.save_partial(state.global_step, self._epoch, observations, self._record_complete)
            logger.warning(
                "DataMapCallback: training stopped in the middle of epoch %d; its record so far is kept under "
                "%s/partial and is completed if training resumes from a checkpoint at step %d. The map holds "
                "the finished epochs only.", self._epoch, self.output_dir, state.global_step,
            )

    def on_save(self, args, state, control, **kwargs):
        if self._recorder is None or _is_whole(state.epoch):
            return  # at an epoch boundary the finished epoch is on disk and the next one has no record yet
        observations = gather_observations(self._recorder.buffer())
        if observations is not None:  # saved even when empty: it says the epoch has lost nothing so far
            self._recorder.save_partial(state.global_step, self._epoch, observations, self._record_complete)

    def _finish_epoch(self, state) -> None:
        """Write the epoch that ends at this step (all processes take part; the first one writes)."""
        if self.mode == "eval":
            self._clean_pass(snapshot=self.snapshots_per_epoch - 1)
        observations = gather_observations(self._recorder.take())
        epoch, self._epoch = self._epoch, self._epoch + 1
        complete, self._record_complete = self._record_complete, True
        if observations is None:
            return
        if epoch in self._kept_epochs:
            logger.info("DataMapCallback: kept the complete record of epoch %d written before this run resumed "
                        "(this run replayed the same steps).", epoch)
        else:
            counts = self._recorder.write_epoch(epoch, observations)
            self._epoch_records[str(epoch)] = {**counts, "complete": complete}
            if not complete:
                logger.warning(
                    "DataMapCallback: epoch %d was recorded only from the checkpoint it resumed from; %d of %d "
                    "examples have a record for it. metadata.json marks the epoch incomplete.",
                    epoch, counts["recorded"], counts["examples"],
                )
        self._recorder.remove_partials(up_to_step=state.global_step)
        self._update_metadata(epochs=list_epochs(self.output_dir), epoch_records=self._sorted_epoch_records())

    def on_train_end(self, args, state, control, **kwargs):
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        self._release_folder()

    # --- one writer per output_dir -------------------------------------------------------------------------
    def _acquire_folder(self) -> None:
        """Lock ``output_dir`` until training ends. A Trainer that raises never calls ``on_train_end``; the lock
        then lasts until this callback trains again or is garbage collected."""
        self._release_folder()  # this callback's own earlier run, if it raised
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(exclusive_folder(self.output_dir, owner="DataMapCallback"))
        except FolderInUseError as error:
            raise FolderInUseError(
                f"{error} A DataMapCallback of an earlier run in this process that stopped with an error holds it "
                "too, until that callback trains again or is deleted."
            ) from None
        self._lock = stack
        self._lock_finalizer = weakref.finalize(self, stack.close)

    def _release_folder(self) -> None:
        if self._lock is None:
            return
        self._lock.close()
        self._lock_finalizer.detach()
        self._lock, self._lock_finalizer = None, None

    # --- recording -----------------------------------------------------------------------------------------
    def _on_forward(self, module, args, kwargs, output):
        if not module.training:
            return
        logits = _logits_of(output)
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        if input_ids is None:
            raise DataMapError("DataMapCallback identifies examples by `input_ids`, but the model got none.")
        attention_mask = kwargs.get("attention_mask")
        labels = kwargs.get("labels")
        index = self._recorder.index
        if not self._checked_first_batch:
            _check_batch(logits, labels if labels is not None else _labels_or_error(index))
            self._checked_first_batch = True
        ids = input_ids.detach().cpu().numpy()
        mask = None if attention_mask is None else attention_mask.detach().cpu().numpy()
        groups = index.lookup(ids, mask)
        if (groups < 0).any():
            raise DataMapError(
                f"{int((groups < 0).sum())} rows of a training batch match no example of the training dataset. "
                "The data collator changes input_ids (e.g. masking or augmentation), or the dataset changed after "
                "the Trainer was built. Use DataMapCallback(mode='eval'), which reads the dataset in order."
            )
        # labels looked up in the dataset stay on the host; gold_statistics meets the logits on their device
        gold = labels.detach().view(-1) if labels is not None else torch.as_tensor(np.array(index.group_label(groups)))
        self._recorder.record(logits, gold, groups)

    @torch.no_grad()
    def _clean_pass(self, snapshot: int) -> None:
        model, args, loader = self._model, self._args, self._dataloader
        dataset = loader.dataset
        rank, world = args.process_index, max(args.world_size, 1)
        rows = np.arange(rank, len(dataset), world)
        batch_size = self.eval_batch_size or args.per_device_eval_batch_size
        clean = DataLoader(
            torch.utils.data.Subset(dataset, rows.tolist()), batch_size=batch_size, collate_fn=loader.collate_fn
        )
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        start = 0
        for batch in clean:
            batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
            labels = batch.pop("labels", None)
            if labels is None:
                labels = batch.pop("label", None)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(args.bf16)):
                logits = _logits_of(model(**batch))
            if not self._checked_first_batch:
                _check_batch(logits, labels if labels is not None else _labels_or_error(None))
                self._checked_first_batch = True
            self._recorder.record(logits, labels.view(-1), rows[start : start + len(logits)], snapshot)
            start += len(logits)
        model.train(was_training)

    # --- set-up --------------------------------------------------------------------------------------------
    def _check_model(self, model) -> None:
        config = getattr(model, "config", None)
        num_labels = getattr(config, "num_labels", None)
        problem = getattr(config, "problem_type", None)
        if problem == "regression" or num_labels == 1:
            raise DataMapError(
                "DataMapCallback supports single-label classification; this model is set up for regression "
                "(num_labels == 1). Regression data maps are not supported yet."
            )
        if problem == "multi_label_classification":
            raise DataMapError(
                "DataMapCallback supports single-label classification; multi-label targets are not supported yet."
            )
        self._num_labels = num_labels

    def _example_ids(self, dataset, args) -> np.ndarray | None:
        if self.id_column is None:
            return None
        columns = list(getattr(dataset, "column_names", None) or ())
        if self.id_column not in columns:
            removed = ""
            if getattr(args, "remove_unused_columns", False):
                removed = (
                    " The Trainer removes the columns that model.forward does not take before it batches the data "
                    "(TrainingArguments(remove_unused_columns=True), the default), so an id column of "
                    "train_dataset never reaches its dataloader. greennlp.encoders.fine_tune(..., keep_columns="
                    f"({self.id_column!r},)) keeps it; with your own Trainer, set TrainingArguments("
                    "remove_unused_columns=False) and use a data collator that drops the columns it does not batch "
                    "(transformers' DataCollatorWithPadding does not)."
                )
            raise DataMapError(
                f"id_column={self.id_column!r} is not a column of the training data the Trainer batches (its "
                f"columns: {columns}).{removed} Or leave id_column=None to identify examples by row position (a "
                "map is matched to its dataset by token content)."
            )
        ids = np.asarray(dataset[self.id_column])
        missing = np.flatnonzero(pd.isna(ids))
        if len(missing):
            raise DataMapError(
                f"id_column={self.id_column!r} has no id (None or NaN) at row {int(missing[0])}"
                f"{f' and {len(missing) - 1} more rows' if len(missing) > 1 else ''}; a data map needs one id per "
                "example. Fill in the missing ids, or leave id_column=None to identify examples by row position."
            )
        unique, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise DataMapError(
                f"id_column={self.id_column!r} has duplicate ids (e.g. {unique[counts > 1][:3].tolist()}); "
                "a data map needs one id per example."
            )
        return ids

    def _resume(self, args, state) -> None:
        """Continue an interrupted record without losing or mislabelling any of it.

        A fresh run (step 0) starts an empty map. A resumed run restores the checkpoint's unfinished epoch from
        the partial record saved with it (checked to be of that epoch), and keeps every complete epoch file
        already written, even of epochs after the checkpoint: it replays the same steps, so re-recording them
        could only lose what is there.
        """
        self._record_complete, self._kept_epochs, self._epoch_records = True, set(), {}
        recorded = list_epochs(self.output_dir)
        if state.global_step == 0:
            self._epoch = 0
            if recorded and not self.overwrite:
                raise DataMapError(
                    f"{str(self.output_dir)!r} already holds a data map (epochs {recorded}). Pass a new "
                    "output_dir, or DataMapCallback(..., overwrite=True) to replace it."
                )
            if self._is_writer:
                for epoch in recorded:
                    epoch_path(self.output_dir, epoch).unlink()
                self._recorder.remove_partials()
                remove_stale_temporaries(self.output_dir, recursive=True)  # left by killed writes
            return
        self._epoch = _epoch_index(state.epoch)
        if not self._is_writer:
            return
        self._epoch_records = {e: r for e, r in self._previous_epoch_records().items() if int(e) in recorded}
        self._kept_epochs = {e for e in recorded
                             if e >= self._epoch and self._epoch_records.get(str(e), {}).get("complete", True)}
        if _is_whole(state.epoch):
            self._recover_unwritten_epoch(state, recorded)
            return
        if self._epoch in self._kept_epochs:
            return
        try:
            saved = self._recorder.load_partial(state.global_step, self._epoch)
        except PartialRecordError as error:
            logger.warning("DataMapCallback: %s It is not restored.", error)
            saved = None
        if saved is not None:
            self._record_complete = bool(saved.get("complete", True))
            return
        missed = self.mode == "train" or any(
            step <= state.global_step for step in self._snapshot_steps_of(self._epoch, args))
        if missed:  # eval mode records at snapshot steps only: nothing is missed before the first one
            self._record_complete = False
            logger.warning(
                "DataMapCallback: resuming mid-epoch at step %d without a saved record of that epoch's first part; "
                "epoch %d of the map will miss those examples (metadata.json marks it incomplete).",
                state.global_step, self._epoch,
            )

    def _recover_unwritten_epoch(self, state, recorded: list[int]) -> None:
        """Earlier versions wrote an epoch only after the checkpoint of its last step, which saved the whole
        epoch as a partial record; a crash in between left the epoch there. Write it now (train mode: complete)."""
        previous = self._epoch - 1
        if previous < 0 or previous in recorded:
            return
        try:
            saved = self._recorder.load_partial(state.global_step, previous)
        except PartialRecordError as error:
            logger.warning("DataMapCallback: %s It is not restored.", error)
            return
        if saved is None:
            return
        observations = self._recorder.take()
        if self.mode != "train" or not len(observations["key"]):
            logger.warning("DataMapCallback: epoch %d was not written before training stopped, and its last "
                           "snapshot cannot be recovered; the map lacks that epoch.", previous)
            return
        counts = self._recorder.write_epoch(previous, observations)
        self._epoch_records[str(previous)] = {**counts, "complete": bool(saved.get("complete", True))}
        logger.warning("DataMapCallback: epoch %d had not been written when training stopped; written now from "
                       "the record saved with the checkpoint of step %d.", previous, state.global_step)

    def _previous_epoch_records(self) -> dict[str, dict[str, Any]]:
        """The per-epoch counts of the map being resumed (none for maps of earlier versions, or no map)."""
        try:
            return dict(read_metadata(self.output_dir).get("epoch_records") or {})
        except (OSError, ValueError):
            return {}

    def _sorted_epoch_records(self) -> dict[str, dict[str, Any]]:
        return {key: self._epoch_records[key] for key in sorted(self._epoch_records, key=int)}

    def _snapshot_steps_of(self, epoch: int, args) -> list[int]:
        """Global steps of epoch ``epoch`` after which ``mode="eval"`` takes a snapshot before the epoch's end."""
        if self.mode != "eval" or self.snapshots_per_epoch == 1:
            return []
        steps = math.ceil(len(self._dataloader) / args.gradient_accumulation_steps)
        first = epoch * steps
        return [first + math.ceil(steps * (k + 1) / self.snapshots_per_epoch)
                for k in range(self.snapshots_per_epoch - 1)]

    def _write_examples(self, dataset, index: ExampleIndex | None, ids: np.ndarray | None) -> None:
        """One row per example: its id and token fingerprint, so a reordered dataset can be matched by content."""
        if not self._is_writer:
            return
        fingerprints = index.fingerprints if index is not None else None
        if fingerprints is None and "input_ids" in getattr(dataset, "column_names", ()):
            fingerprints = dataset_fingerprints(dataset)[0]
        columns = {"row": np.arange(len(dataset), dtype=np.int64)}
        if ids is not None:
            columns["id"] = ids
        if fingerprints is not None:
            columns["fingerprint"] = fingerprints
        write_table(self.output_dir / EXAMPLES_FILE, columns)

    def _write_metadata(self, args, state, model, num_examples: int) -> None:
        if not self._is_writer:
            return
        config = getattr(model, "config", None)
        self._metadata = {
            "format_version": FORMAT_VERSION,
            "mode": self.mode,
            "num_examples": num_examples,
            "num_labels": self._num_labels,
            "id_column": self.id_column,
            "store_probabilities": self.store_probabilities,
            "snapshots_per_epoch": self.snapshots_per_epoch,
            "model_name": getattr(config, "_name_or_path", None) or type(model).__name__,
            "label_names": {int(k): v for k, v in (getattr(config, "id2label", None) or {}).items()},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "epochs": list_epochs(self.output_dir),
            # per epoch: examples recorded in every snapshot, of how many, and whether the record covers the whole
            # epoch (False when a resumed run could not restore the part before its checkpoint)
            "epoch_records": self._sorted_epoch_records(),
            "num_train_epochs": args.num_train_epochs,
        }
        write_json(self.output_dir / METADATA_FILE, self._metadata)

    def _update_metadata(self, **changes: Any) -> None:
        self._metadata.update(changes)
        write_json(self.output_dir / METADATA_FILE, self._metadata)


def _check_trainer_runs_every_process(args) -> None:
    """Refuse a torchrun launch in which the Trainer does not run data parallel: each process then trains alone as
    process 0 and would write the same map (on CPU the Trainer runs DDP only with ``ddp_backend="gloo"``)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    processes = torch.distributed.get_world_size()
    if processes > 1 and args.world_size == 1:
        raise DataMapError(
            f"torch.distributed runs {processes} processes, but the Trainer does not train them as one data-parallel "
            f"run (TrainingArguments.world_size == 1, parallel_mode={getattr(args.parallel_mode, 'value', None)!r}): "
            "each process would train alone and write the whole map into the same folder. On CPU the Trainer runs "
            "DDP only with TrainingArguments(ddp_backend='gloo') (or use_cpu=True, which picks gloo); pass it, or "
            "run one process without torchrun."
        )


def _check_not_empty(dataset) -> None:
    if hasattr(dataset, "__len__") and len(dataset) == 0:
        raise DataMapError(
            "DataMapCallback: the training dataset is empty (0 examples), so there is nothing to map. Check the "
            "split, filter or select that built train_dataset."
        )


def _is_whole(epoch: float | None) -> bool:
    return abs((epoch or 0.0) - round(epoch or 0.0)) < 1e-6


def _epoch_index(epoch: float | None) -> int:
    return int(math.floor((epoch or 0.0) + 1e-6))


def _logits_of(output) -> torch.Tensor:
    logits = getattr(output, "logits", None)
    if logits is None and isinstance(output, dict):
        logits = output.get("logits")
    if logits is None:
        raise DataMapError(
            f"The model's output ({type(output).__name__}) has no `logits`; DataMapCallback needs a "
            "sequence-classification model (e.g. AutoModelForSequenceClassification)."
        )
    return logits


def _check_batch(logits: torch.Tensor, labels: torch.Tensor | None) -> None:
    """Fail at the first batch, with the fix, on inputs a data map cannot describe."""
    if logits.dim() != 2:
        raise DataMapError(
            f"Expected logits of shape (batch, num_labels); got {tuple(logits.shape)}. Token-level tasks are not "
            "supported yet."
        )
    if logits.shape[-1] == 1:
        raise DataMapError("The model outputs one logit per example (regression): not supported yet.")
    if labels is None:
        return
    if labels.dim() > 1 and labels.shape[-1] > 1:
        raise DataMapError(
            f"Labels of shape {tuple(labels.shape)} look multi-label; DataMapCallback supports one class id per "
            "example (multi-label maps are not supported yet)."
        )
    if labels.is_floating_point():
        raise DataMapError("Labels are floating point (regression targets); DataMapCallback needs class ids.")


def _labels_or_error(index: ExampleIndex | None) -> None:
    if index is None or index.labels is None:
        raise DataMapError(
            "The training batch has no `labels` and the dataset has no label column: a data map needs the gold "
            "label of every example. Add a `label` column to the training dataset."
        )
