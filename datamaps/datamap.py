"""``DataMap``: the analysis side of cartography, read from files written by ``DataMapCallback``."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .metrics import DynamicsAccumulator, el2n, gold_statistics, metrics_from_arrays
from .regions import REGIONS, assign_regions, canonical_region, top_positions
from .storage import epoch_path, list_epochs, read_cartography_jsonl, read_metadata, read_table, write_cartography_jsonl


class DataMap:
    """Per-example training-dynamics metrics and map regions.

    ``table`` is a pandas DataFrame indexed by example id (the dataset's ``id_column`` or the row position),
    with columns ``confidence``, ``variability``, ``correctness``, ``forgetfulness``, ``aum``, ``el2n`` (when
    probabilities were stored), ``observations``, ``gold`` and ``region``. Definitions: :mod:`datamaps.metrics`.

    Build one with :meth:`load`, :meth:`from_arrays` or :meth:`from_cartography_jsonl`.
    """

    def __init__(self, table: pd.DataFrame, metadata: dict[str, Any] | None = None, region_fraction: float = 1 / 3):
        self.metadata = dict(metadata or {})
        self.region_fraction = region_fraction
        table = table.copy()
        table["region"] = assign_regions(table, region_fraction)
        self.table = table

    # --- construction --------------------------------------------------------------------------------------
    @classmethod
    def load(cls, output_dir: str | os.PathLike, epochs: Iterable[int] | None = None, burn_in: int = 0,
             region_fraction: float = 1 / 3) -> DataMap:
        """Read a map written by ``DataMapCallback``, streaming epoch files (O(examples) memory).

        ``epochs`` picks recorded epochs by index; ``burn_in`` skips that many of the first ones (early epochs
        of training from scratch say little about the data).
        """
        metadata = read_metadata(output_dir)
        available = list_epochs(output_dir)
        chosen = [e for e in available if epochs is None or e in set(epochs)][burn_in:]
        if not chosen:
            raise ValueError(
                f"No recorded epochs to analyse in {str(output_dir)!r} (recorded: {available}, epochs={epochs}, "
                f"burn_in={burn_in}). Did training finish at least one epoch?"
            )
        accumulator = DynamicsAccumulator(metadata["num_examples"])
        ids = None
        for epoch in chosen:
            columns = read_table(epoch_path(output_dir, epoch))
            if ids is None and "id" in columns:
                ids = np.empty(metadata["num_examples"], dtype=columns["id"].dtype)
            if "id" in columns:
                ids[columns["row"]] = columns["id"]
            for snapshot in np.unique(columns["snapshot"]):
                at = columns["snapshot"] == snapshot
                rows, gold = columns["row"][at], columns["gold"][at]
                score = el2n(columns["probs"][at], gold) if "probs" in columns else None
                accumulator.update(rows, columns["p_gold"][at], columns["correct"][at], columns["margin"][at], gold, score)
        table = accumulator.finalize()
        table.index = pd.Index(ids if ids is not None else np.arange(len(table)), name=metadata.get("id_column") or "row")
        metadata = {**metadata, "epochs_used": chosen}
        return cls(table, metadata, region_fraction)

    @classmethod
    def from_arrays(cls, p_gold, correct, margin, gold, probabilities=None, ids=None,
                    metadata: dict[str, Any] | None = None, region_fraction: float = 1 / 3) -> DataMap:
        """Build a map from ``(N, T)`` arrays of p(gold), correctness and margin (NaN p(gold) = not recorded)."""
        table = metrics_from_arrays(p_gold, correct, margin, gold, probabilities)
        if ids is not None:
            ids = np.asarray(ids)
            if len(ids) != len(table) or len(np.unique(ids)) != len(ids):
                raise ValueError("ids must hold one distinct id per example.")
        table.index = pd.Index(ids if ids is not None else np.arange(len(table)), name="id" if ids is not None else "row")
        return cls(table, {"mode": "arrays", **(metadata or {})}, region_fraction)

    @classmethod
    def from_logits(cls, logits, gold, ids=None, metadata: dict[str, Any] | None = None, **kwargs) -> DataMap:
        """Build a map from ``(N, T, C)`` logits (NaN rows = not recorded) and ``(N,)`` gold labels."""
        logits = torch.as_tensor(np.asarray(logits, dtype=np.float32))
        gold = torch.as_tensor(np.asarray(gold, dtype=np.int64))
        n, steps, classes = logits.shape
        missing = torch.isnan(logits).any(-1)
        stats = gold_statistics(torch.nan_to_num(logits).reshape(n * steps, classes), gold.repeat_interleave(steps))
        shape = (n, steps)
        p_gold = stats["p_gold"].reshape(shape).double().numpy()
        p_gold[missing.numpy()] = np.nan
        return cls.from_arrays(p_gold, stats["correct"].reshape(shape).numpy(), stats["margin"].reshape(shape).numpy(),
                               gold.numpy(), stats["probs"].reshape(n, steps, classes).numpy(), ids, metadata, **kwargs)

    @classmethod
    def from_cartography_jsonl(cls, folder: str | os.PathLike, **kwargs) -> DataMap:
        """Read allenai/cartography ``training_dynamics/dynamics_epoch_{E}.jsonl`` files."""
        epochs = read_cartography_jsonl(folder)
        guids = list(epochs[0][1])
        position = {guid: i for i, guid in enumerate(guids)}
        n, classes = len(guids), epochs[0][2].shape[1]
        logits = np.full((n, len(epochs), classes), np.nan)
        gold = np.full(n, -1, dtype=np.int64)
        for t, (_, epoch_guids, epoch_logits, epoch_gold) in enumerate(epochs):
            try:
                rows = np.fromiter((position[g] for g in epoch_guids), dtype=np.int64, count=len(epoch_guids))
            except KeyError as error:
                raise ValueError(f"guid {error.args[0]!r} appears in a later epoch but not in the first.") from None
            logits[rows, t] = epoch_logits
            gold[rows] = epoch_gold
        metadata = {"mode": "cartography-jsonl", "epochs_used": [e for e, *_ in epochs], "num_labels": classes}
        return cls.from_logits(logits, gold, ids=np.asarray(guids), metadata=metadata, **kwargs)

    # --- analysis ------------------------------------------------------------------------------------------
    def select(self, region: str, fraction: float | None = None, threshold: float | None = None,
               seed: int = 0) -> pd.Index:
        """Ids of the examples in ``region``: its top ``fraction`` by the paper's sort order, or those past
        ``threshold`` (ambiguous: variability >= t; easy-to-learn: confidence >= t; hard-to-learn: confidence <= t)."""
        column, highest = REGIONS[canonical_region(region)]
        positions = top_positions(self.table[column].to_numpy(), fraction, threshold, highest, seed)
        return self.table.index[positions]

    def scores(self, column: str) -> pd.Series:
        """One metric column as a Series indexed by example id (input to score-based selection)."""
        if column not in self.table.columns:
            raise KeyError(f"No column {column!r} in this data map; it has {list(self.table.columns)}.")
        return self.table[column]

    @property
    def id_column(self) -> str | None:
        """The dataset column holding the example ids, or ``None`` when ids are row positions."""
        return self.metadata.get("id_column")

    def plot(self, path: str | os.PathLike | None = None, **kwargs):
        """Draw the data map (see :func:`datamaps.plot_data_map`); saves to ``path`` (PNG/SVG/PDF) when given."""
        from .plot import plot_data_map

        return plot_data_map(self, path, **kwargs)

    def to_cartography_jsonl(self, output_dir: str | os.PathLike, source_dir: str | os.PathLike) -> list[Path]:
        """Export a map recorded with ``store_probabilities=True`` (or binary labels) in the cartography schema.

        Logits are written as log-probabilities, which give back the same softmax.
        """
        metadata = read_metadata(source_dir)
        paths = []
        for epoch in list_epochs(source_dir):
            columns = read_table(epoch_path(source_dir, epoch))
            at = columns["snapshot"] == columns["snapshot"].max()
            if "probs" in columns:
                probabilities = columns["probs"][at]
            elif metadata.get("num_labels") == 2:
                p = columns["p_gold"][at].astype(np.float64)
                gold = columns["gold"][at]
                probabilities = np.where(gold[:, None] == np.arange(2)[None, :], p[:, None], 1 - p[:, None])
            else:
                raise ValueError("Exporting a multiclass map needs probabilities: record with store_probabilities=True.")
            guids = columns["id"][at] if "id" in columns else columns["row"][at]
            logits = np.log(np.clip(probabilities, 1e-12, 1.0))
            paths.append(write_cartography_jsonl(Path(output_dir), epoch, guids, logits, columns["gold"][at]))
        return paths

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        counts = self.table["region"].value_counts().to_dict()
        return f"DataMap({len(self)} examples, epochs={self.metadata.get('epochs_used')}, regions={counts})"
