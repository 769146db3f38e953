"""Per-epoch buffer of training dynamics: record batches, then write one Parquet file per epoch.

Independent of the Trainer (the callback feeds it), so the recording path can be driven and measured alone.
Memory is O(examples in one epoch): each finished epoch goes to disk and the buffer is emptied.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import DataMapError
from .matching import ExampleIndex, first_occurrences
from .metrics import gold_statistics
from .storage import epoch_path, partial_path, partial_steps, read_partial, write_partial, write_table

logger = logging.getLogger(__name__)

_FIELDS = {"key": np.int64, "gold": np.int64, "p_gold": np.float32, "correct": bool, "margin": np.float32,
           "snapshot": np.int16}


class DynamicsRecorder:
    """Collect per-example statistics for the current epoch and write them when it ends.

    Parameters
    ----------
    output_dir:
        Folder of the data map.
    num_examples:
        Size of the training set.
    index:
        Content index used to turn batch rows into example rows (training-pass mode). ``None`` when the
        caller already knows the rows (clean evaluation-pass mode).
    ids:
        The dataset's own example ids (``id_column``), written beside the row positions.
    store_probabilities:
        Also keep the full probability vector of every record.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        num_examples: int,
        index: ExampleIndex | None = None,
        ids: np.ndarray | None = None,
        store_probabilities: bool = False,
    ):
        self.output_dir = Path(output_dir)
        self.num_examples = num_examples
        self.index = index
        self.ids = ids
        self.store_probabilities = store_probabilities
        self._columns: dict[str, np.ndarray] = {}
        self._size = 0

    # --- recording -----------------------------------------------------------------------------------------
    def record(self, logits: torch.Tensor, gold: torch.Tensor, keys: np.ndarray, snapshot: int = 0) -> None:
        """Record one batch: ``keys`` are index groups (training-pass mode) or example rows (``index=None``)."""
        stats = gold_statistics(logits, gold)
        values = {
            "key": np.asarray(keys, dtype=np.int64),
            "gold": gold.detach().cpu().numpy(),
            "p_gold": stats["p_gold"].cpu().numpy(),
            "correct": stats["correct"].cpu().numpy(),
            "margin": stats["margin"].cpu().numpy(),
            "snapshot": snapshot,
        }
        if self.store_probabilities:
            values["probs"] = stats["probs"].cpu().numpy()
        self._append(values, len(values["key"]))

    def _append(self, values: dict, count: int) -> None:
        """Write ``count`` records into preallocated columns (grown by half when full): no per-batch arrays to
        concatenate and no heap fragmentation from thousands of small chunks."""
        end = self._size + count
        if not self._columns or end > len(self._columns["key"]):
            self._grow(max(end, int(1.5 * len(self._columns.get("key", ()))), self.num_examples + 64), values)
        for name, value in values.items():
            self._columns[name][self._size : end] = value
        self._size = end

    def _grow(self, capacity: int, values: dict) -> None:
        if "probs" in values or "probs" in self._columns:
            width = (values["probs"] if "probs" in values else self._columns["probs"]).shape[1]
        grown = {}
        for name in values.keys() | self._columns.keys():
            shape = (capacity, width) if name == "probs" else (capacity,)
            grown[name] = np.empty(shape, dtype=np.float32 if name == "probs" else _FIELDS[name])
            if name in self._columns:
                grown[name][: self._size] = self._columns[name][: self._size]
        self._columns = grown

    def buffer(self) -> dict[str, np.ndarray]:
        """The observations of the current epoch so far (views, not copies)."""
        if not self._columns:
            return {name: np.empty(0, dtype=dtype) for name, dtype in _FIELDS.items()}
        return {name: column[: self._size] for name, column in self._columns.items()}

    def clear(self) -> None:
        self._columns, self._size = {}, 0

    def __len__(self) -> int:
        return self._size

    # --- checkpoints ---------------------------------------------------------------------------------------
    def save_partial(self, global_step: int, epoch: int, observations: dict[str, np.ndarray],
                     complete: bool = True) -> None:
        """Keep the unfinished epoch's observations beside a checkpoint, so a resumed run has no gap.

        The file says which ``epoch`` they belong to and whether they cover it from its first step
        (``complete``), so a resumed run never counts them towards another epoch.
        """
        columns = dict(observations)
        columns["epoch"] = np.full(len(columns.get("key", [])), epoch, dtype=np.int32)
        write_partial(self.output_dir, global_step, columns,
                      {"epoch": int(epoch), "records": len(columns["epoch"]), "complete": bool(complete)})

    def load_partial(self, global_step: int, epoch: int) -> dict[str, Any] | None:
        """Restore the observations of ``epoch`` saved at ``global_step`` and return their saved state.

        ``None`` (nothing restored) when none were saved at that step; raises :class:`PartialRecordError` when
        the saved ones belong to another epoch.
        """
        saved = read_partial(self.output_dir, global_step)
        if saved is None:
            return None
        state, columns = saved
        if state.get("epoch") != epoch:
            raise PartialRecordError(
                f"{partial_path(self.output_dir, global_step)} holds the record of epoch {state.get('epoch')}, but "
                f"the checkpoint of step {global_step} is in epoch {epoch}."
            )
        self.clear()
        if len(columns.get("key", ())):
            self._append(columns, len(columns["key"]))
        return state

    def remove_partials(self, up_to_step: int | None = None) -> None:
        """Delete the partial records saved at or before ``up_to_step`` (all of them when ``None``)."""
        for step in partial_steps(self.output_dir):
            if up_to_step is None or step <= up_to_step:
                partial_path(self.output_dir, step).unlink(missing_ok=True)

    # --- end of epoch --------------------------------------------------------------------------------------
    def take(self) -> dict[str, np.ndarray]:
        """The current epoch's observations, handed over: the recorder keeps no reference (so no copy)."""
        observations = self.buffer()
        self.clear()
        return observations

    def write_epoch(self, epoch: int, observations: dict[str, np.ndarray]) -> dict[str, int]:
        """Resolve observations to example rows, drop duplicates, and write the epoch file atomically.

        Consumes ``observations``: its columns are replaced one at a time by their sorted selection, so the
        peak is one epoch of records plus one column. Returns the epoch's counts for ``metadata.json``:
        ``recorded`` (examples recorded in every snapshot of the epoch) of ``examples`` (the training set).
        """
        if not observations or len(observations["key"]) == 0:
            raise RuntimeError(
                f"Epoch {epoch} recorded no examples. DataMapCallback saw no training forward pass: check that "
                "the model is called in training mode with the batch as keyword arguments."
            )
        rows, kept = self._resolve(observations)
        selected = np.flatnonzero(kept)
        del kept
        snapshots = observations["snapshot"][selected]
        if len(snapshots) and snapshots.min() == snapshots.max():
            order = selected[np.argsort(rows[selected], kind="stable")]
        else:
            order = selected[np.lexsort((rows[selected], snapshots))]
        del snapshots
        del selected
        observations["row"] = rows
        del rows
        names = ["row"] + [n for n in ("gold", "p_gold", "correct", "margin", "snapshot", "probs") if n in observations]
        columns: dict[str, Any] = {}
        for name in names:
            columns[name] = observations.pop(name)[order]
        observations.clear()
        if self.ids is not None:
            columns = {"row": columns["row"], "id": self.ids[columns["row"]], **{k: v for k, v in columns.items() if k != "row"}}
        per_snapshot = np.bincount(columns["snapshot"].astype(np.int64))
        recorded = int(per_snapshot.min())
        missing = self.num_examples - recorded
        if missing:
            logger.warning(
                "DataMapCallback: %d of %d training examples were not seen in epoch %d (e.g. "
                "dataloader_drop_last=True); their record for this epoch is missing.",
                missing, self.num_examples, epoch,
            )
        write_table(epoch_path(self.output_dir, epoch), columns)
        return {"recorded": recorded, "examples": self.num_examples}

    def _resolve(self, observations: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        keys, snapshots, gold = observations["key"], observations["snapshot"], observations["gold"]
        if len(snapshots) and snapshots.min() == snapshots.max():  # one time point: no per-snapshot copies
            return self._resolve_snapshot(keys, gold)
        rows = np.full(len(keys), -1, dtype=np.int64)
        kept = np.zeros(len(keys), dtype=bool)
        for snapshot in np.unique(snapshots):
            at = np.flatnonzero(snapshots == snapshot)
            rows[at], kept[at] = self._resolve_snapshot(keys[at], gold[at])
        return rows, kept

    def _resolve_snapshot(self, keys: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.index is not None:
            return self.index.assign_rows(keys, gold)
        return keys, first_occurrences(keys, self.num_examples)


class PartialRecordError(ValueError):
    """A saved partial record belongs to another epoch than the checkpoint it was saved beside."""


def raise_if_any_rank_failed(error: BaseException | None, step: str) -> None:
    """Under DDP, tell every rank whether any rank failed at ``step``; identity without DDP.

    A rank that raises alone leaves the others waiting at the next collective (the first gradient sync) until the
    process group's timeout, 30 minutes by default. Every rank calls this at the same point, so all of them stop:
    the failed rank re-raises its own error, the others raise a ``DataMapError`` that names it. Collective: call
    it on every rank or on none.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        if error is not None:
            raise error
        return
    world = torch.distributed.get_world_size()
    messages: list[Any] = [None] * world
    torch.distributed.all_gather_object(messages, None if error is None else f"{type(error).__name__}: {error}")
    if error is not None:
        raise error
    failed = [(rank, message) for rank, message in enumerate(messages) if message is not None]
    if failed:
        rank, message = failed[0]
        raise DataMapError(f"DataMapCallback failed at {step} on rank {rank} ({message}); every rank stops.")


def gather_observations(observations: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """Collect every rank's observations on rank 0 (returned there, ``None`` elsewhere); identity without DDP."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return observations
    world = torch.distributed.get_world_size()
    if world == 1:
        return observations
    gathered: list[Any] = [None] * world
    torch.distributed.all_gather_object(gathered, observations)
    if torch.distributed.get_rank() != 0:
        return None
    names = {name for part in gathered for name in part}
    return {name: np.concatenate([part[name] for part in gathered if len(part.get(name, ()))]
                                 or [observations[name]]) for name in names}
