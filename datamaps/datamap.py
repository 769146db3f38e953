"""``DataMap``: the analysis side of cartography, read from files written by ``DataMapCallback`` (or built from
arrays or allenai/cartography JSONL), saved back to the same format, matched to datasets by id or content."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from greennlp._files import exclusive_folder, write_json

from .alignment import ROW, dataset_rows
from .metrics import DynamicsAccumulator, el2n, gold_statistics
from .regions import assign_regions, region_positions
from .storage import (
    EXAMPLES_FILE,
    FORMAT_VERSION,
    METADATA_FILE,
    epoch_path,
    list_epochs,
    read_cartography_jsonl,
    read_metadata,
    read_table,
    write_cartography_jsonl,
    write_table,
)

Records = Iterable[tuple[int, dict[str, np.ndarray]]]


class DataMap:
    """Per-example training-dynamics metrics and map regions.

    ``table`` is a pandas DataFrame with one row per example, indexed by example id: the index is named after the
    dataset column that holds the ids (``id_column``), or ``row`` when the ids are the row positions of the dataset
    the map was recorded on. Columns: ``confidence``, ``variability``, ``correctness``, ``forgetfulness``, ``aum``,
    ``el2n`` (when probabilities were stored), ``observations``, ``gold`` and ``region``. Metric definitions:
    :mod:`datamaps.metrics`; region definition: :mod:`datamaps.regions`.

    Build one with :meth:`load`, :meth:`from_arrays`, :meth:`from_logits` or :meth:`from_cartography_jsonl`;
    write it with :meth:`save` (read back by :meth:`load`) or :meth:`to_cartography_jsonl`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data_map = DataMap.from_logits(rng.normal(size=(6, 3, 2)), [0, 1, 0, 1, 0, 1], ids=list("abcdef"))
    >>> data_map.id_column, len(data_map), sorted(data_map.table["region"].value_counts().index)
    ('id', 6, ['ambiguous', 'easy-to-learn', 'hard-to-learn'])
    """

    def __init__(self, table: pd.DataFrame, metadata: dict[str, Any] | None = None, *,
                 region_fraction: float = 1 / 3):
        table = table.copy()
        if table.index.name is None:
            positions = isinstance(table.index, pd.RangeIndex) and table.index.start == 0 and table.index.step == 1
            table.index.name = ROW if positions else "id"
        table["region"] = assign_regions(table, region_fraction)
        self.table = table
        self.region_fraction = region_fraction
        self.metadata = {**(metadata or {}), "id_column": self.id_column, "region_fraction": region_fraction}
        self._records: list[tuple[int, dict[str, np.ndarray]]] | None = None  # in memory (arrays, JSONL)
        self._source: tuple[Path, list[int]] | None = None  # or epoch files on disk (load)
        self._fingerprints: np.ndarray | None = None  # token fingerprint per example, in table order

    # --- construction --------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike, *, epochs: Iterable[int] | None = None, burn_in: int = 0,
             region_fraction: float | None = None) -> DataMap:
        """Read a map written by ``DataMapCallback`` or :meth:`save`, streaming epoch files (O(examples) memory).

        ``epochs`` picks recorded epochs by index; ``burn_in`` skips that many of the first ones (early epochs
        of training from scratch say little about the data). ``region_fraction`` defaults to the saved one (1/3).
        """
        metadata = read_metadata(path)
        available = list_epochs(path)
        chosen = [e for e in available if epochs is None or e in set(epochs)][burn_in:]
        if not chosen:
            raise ValueError(
                f"No recorded epochs to analyse in {str(path)!r} (recorded: {available}, epochs={epochs}, "
                f"burn_in={burn_in}). Did training finish at least one epoch?"
            )
        examples = read_table(Path(path) / EXAMPLES_FILE) if (Path(path) / EXAMPLES_FILE).is_file() else {}
        source = (Path(path), chosen)
        table = _aggregate(_read_epochs(source), metadata["num_examples"], metadata.get("id_column"),
                           examples.get("id"))
        if region_fraction is None:
            region_fraction = metadata.get("region_fraction", 1 / 3)
        data_map = cls(table, {**metadata, "epochs_used": chosen}, region_fraction=region_fraction)
        data_map._source = source
        data_map._fingerprints = examples.get("fingerprint")
        return data_map

    @classmethod
    def from_arrays(cls, p_gold, correct, margin, gold, *, probabilities=None, ids=None, id_column: str | None = None,
                    metadata: dict[str, Any] | None = None, region_fraction: float = 1 / 3) -> DataMap:
        """Build a map from ``(N, T)`` arrays of p(gold), correctness and margin (NaN p(gold) = not recorded).

        ``ids`` are the examples' own ids, found in the dataset column ``id_column`` (default ``"id"``) when
        selecting; without ids the map is keyed by row position.
        """
        p_gold = np.asarray(p_gold, dtype=np.float64)
        if p_gold.ndim != 2:
            raise ValueError(f"p_gold must have shape (num_examples, num_time_points); got {p_gold.shape}.")
        correct, margin = np.asarray(correct, dtype=bool), np.asarray(margin, dtype=np.float64)
        if correct.shape != p_gold.shape or margin.shape != p_gold.shape:
            raise ValueError("p_gold, correct and margin must have the same (num_examples, num_time_points) shape.")
        gold = np.asarray(gold, dtype=np.int64)
        if gold.shape != (len(p_gold),):
            raise ValueError(f"gold must hold one label per example: shape ({len(p_gold)},); got {gold.shape}.")
        if probabilities is not None:
            probabilities = np.asarray(probabilities, dtype=np.float64)
            if probabilities.shape[:2] != p_gold.shape:
                raise ValueError("probabilities must have shape (num_examples, num_time_points, num_labels).")
        if ids is not None:
            ids = np.asarray(ids)
            if ids.shape != (len(p_gold),) or len(pd.unique(ids)) != len(ids):
                raise ValueError("ids must hold one distinct id per example.")
            id_column = id_column or "id"
        elif id_column is not None:
            raise ValueError("id_column names the dataset column of `ids`; pass ids too.")
        metadata = {"mode": "arrays", **(metadata or {})}
        epochs = list(metadata.get("epochs_used") or range(p_gold.shape[1]))
        records = []
        for t, epoch in enumerate(epochs):
            rows = np.flatnonzero(~np.isnan(p_gold[:, t]))
            columns = {"row": rows, **({"id": ids[rows]} if ids is not None else {}), "gold": gold[rows],
                       "p_gold": p_gold[rows, t], "correct": correct[rows, t], "margin": margin[rows, t],
                       "snapshot": np.zeros(len(rows), dtype=np.int16)}
            if probabilities is not None:
                columns["probs"] = probabilities[rows, t]
            records.append((int(epoch), columns))
        table = _aggregate(records, len(p_gold), id_column, ids)
        metadata.update(epochs_used=[e for e, _ in records], num_examples=len(p_gold))
        data_map = cls(table, metadata, region_fraction=region_fraction)
        data_map._records = records
        return data_map

    @classmethod
    def from_logits(cls, logits, gold, *, ids=None, id_column: str | None = None,
                    metadata: dict[str, Any] | None = None, region_fraction: float = 1 / 3) -> DataMap:
        """Build a map from ``(N, T, C)`` logits (NaN rows = not recorded) and ``(N,)`` gold labels."""
        logits = torch.as_tensor(np.asarray(logits, dtype=np.float32))
        gold = torch.as_tensor(np.asarray(gold, dtype=np.int64))
        n, steps, classes = logits.shape
        missing = torch.isnan(logits).any(-1)
        stats = gold_statistics(torch.nan_to_num(logits).reshape(n * steps, classes), gold.repeat_interleave(steps))
        shape = (n, steps)
        p_gold = stats["p_gold"].reshape(shape).double().numpy()
        p_gold[missing.numpy()] = np.nan
        metadata = {"num_labels": classes, **(metadata or {})}
        return cls.from_arrays(p_gold, stats["correct"].reshape(shape).numpy(), stats["margin"].reshape(shape).numpy(),
                               gold.numpy(), probabilities=stats["probs"].reshape(n, steps, classes).numpy(), ids=ids,
                               id_column=id_column, metadata=metadata, region_fraction=region_fraction)

    @classmethod
    def from_cartography_jsonl(cls, folder: str | os.PathLike, *, id_column: str = "guid",
                               region_fraction: float = 1 / 3) -> DataMap:
        """Read allenai/cartography ``training_dynamics/dynamics_epoch_{E}.jsonl`` files.

        The map is keyed by the files' ``guid`` values, found in the dataset column ``id_column`` when selecting.
        """
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
        return cls.from_logits(logits, gold, ids=np.asarray(guids), id_column=id_column, metadata=metadata,
                               region_fraction=region_fraction)

    # --- files ---------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the map in the ``DataMapCallback`` format (one Parquet file per epoch, ``examples.parquet``,
        ``metadata.json``; each written atomically, ``metadata.json`` last); :meth:`load` reads it back.

        Refuses a folder that already holds a map unless ``overwrite=True``. Returns ``path``.
        """
        path = Path(path)
        if self._source is not None and path.resolve() == self._source[0].resolve():
            raise ValueError(f"This map was read from {str(path)!r}; save it to another folder.")
        records = self._records_or_error()
        with exclusive_folder(path, owner="DataMap.save"):
            if ((path / METADATA_FILE).exists() or list_epochs(path)) and not overwrite:
                raise FileExistsError(f"{str(path)!r} already holds a data map; pass overwrite=True to replace it.")
            (path / METADATA_FILE).unlink(missing_ok=True)  # no metadata = no map, until the new one is complete
            for epoch in list_epochs(path):
                epoch_path(path, epoch).unlink()
            epochs = []
            for epoch, columns in records:
                write_table(epoch_path(path, epoch), columns)
                epochs.append(epoch)
            examples = {"row": np.arange(len(self), dtype=np.int64)}
            if self.id_column is not None:
                examples["id"] = self.table.index.to_numpy()
            if self._fingerprints is not None:
                examples["fingerprint"] = np.asarray(self._fingerprints, dtype=np.int64)
            write_table(path / EXAMPLES_FILE, examples)
            metadata = {**self.metadata, "format_version": FORMAT_VERSION, "num_examples": len(self),
                        "epochs": epochs, "epochs_used": epochs}
            write_json(path / METADATA_FILE, metadata)
        return path

    def to_cartography_jsonl(self, output_dir: str | os.PathLike) -> list[Path]:
        """Write the map in the allenai/cartography schema (``dynamics_epoch_{E}.jsonl``), one file per epoch.

        Needs probability vectors (``store_probabilities=True``, arrays or JSONL maps) or binary labels. Logits
        are written as log-probabilities, which give back the same softmax. The ``guid`` of each example is its
        id (its row position in a position-keyed map).
        """
        num_labels = self.metadata.get("num_labels")
        paths = []
        for epoch, columns in self._records_or_error():
            at = columns["snapshot"] == columns["snapshot"].max()
            if "probs" in columns:
                probabilities = columns["probs"][at]
            elif num_labels == 2:
                p = columns["p_gold"][at].astype(np.float64)
                gold = columns["gold"][at]
                probabilities = np.where(gold[:, None] == np.arange(2)[None, :], p[:, None], 1 - p[:, None])
            else:
                raise ValueError("Exporting a multiclass map needs probabilities: record with store_probabilities=True.")
            guids = self.table.index.to_numpy()[columns["row"][at]]
            logits = np.log(np.clip(probabilities, 1e-12, 1.0))
            paths.append(write_cartography_jsonl(Path(output_dir), epoch, guids, logits, columns["gold"][at]))
        return paths

    def _records_or_error(self) -> Records:
        if self._records is not None:
            return self._records
        if self._source is not None:
            return _read_epochs(self._source)
        raise ValueError("This DataMap was built from a table alone and has no per-epoch records to write; build it "
                         "with DataMap.load, from_arrays, from_logits or from_cartography_jsonl.")

    # --- analysis ------------------------------------------------------------------------------------------
    def select(self, region: str, *, fraction: float | None = None, threshold: float | None = None,
               seed: int = 0) -> pd.Index:
        """Ids of the examples selected for ``region``, best first (rule: :mod:`datamaps.regions`).

        No ``fraction`` and no ``threshold``: the whole region. ``fraction``: that share of the whole map, from the
        region's best-ranked members. ``threshold``: the members past it (ambiguous: variability >= t; easy-to-learn:
        confidence >= t; hard-to-learn: confidence <= t). ``seed`` breaks ties.
        """
        return self.table.index[region_positions(self.table, region, fraction, threshold, seed)]

    def scores(self, column: str) -> pd.Series:
        """One metric column as a Series indexed by example id (input to score-based selection)."""
        if column not in self.table.columns:
            raise KeyError(f"No column {column!r} in this data map; it has {list(self.table.columns)}.")
        return self.table[column]

    def dataset_rows(self, dataset, *, id_column: str | None = None) -> pd.Series:
        """The row of ``dataset`` that holds each example of the map, as a Series indexed like ``table``.

        A map keyed by ids matches them in the dataset column ``id_column`` (default: the map's). A map keyed by
        row position matches a tokenized dataset by content (token fingerprints recorded by ``DataMapCallback``),
        in any order; otherwise rows are positions, after checking the length and the labels. Raises
        ``ValueError`` when an example cannot be matched, naming what to pass. Rows of the dataset that the map
        does not describe are allowed (they are never selected).
        """
        if id_column is not None and self.id_column is None:
            raise ValueError(f"This map is keyed by row position, so id_column={id_column!r} has no ids to match; "
                             "record the map with DataMapCallback(id_column=...) to select by id.")
        rows = dataset_rows(self.table.index, dataset, id_column=id_column, fingerprints=self._fingerprints,
                            gold=self.table["gold"].to_numpy())
        return pd.Series(rows, index=self.table.index, name="dataset_row")

    @property
    def id_column(self) -> str | None:
        """The dataset column holding the example ids, or ``None`` when ids are row positions."""
        name = self.table.index.name
        return None if name == ROW else name

    def plot(self, path: str | os.PathLike | None = None, **kwargs):
        """Draw the data map (see :func:`datamaps.plot.plot_data_map`); saves to ``path`` (PNG/SVG/PDF) when
        given. Returns the matplotlib ``Figure``."""
        from .plot import plot_data_map

        return plot_data_map(self, path, **kwargs)

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        counts = self.table["region"].value_counts().to_dict()
        return f"DataMap({len(self)} examples, epochs={self.metadata.get('epochs_used')}, regions={counts})"


def _read_epochs(source: tuple[Path, list[int]]) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    folder, epochs = source
    for epoch in epochs:
        path = epoch_path(folder, epoch)
        if not path.is_file():
            raise FileNotFoundError(f"The map was read from {str(folder)!r}, which no longer holds epoch {epoch} "
                                    f"({path.name}); load it again from where it is now.")
        yield epoch, read_table(path)


def _aggregate(records: Records, num_examples: int, id_column: str | None, ids=None) -> pd.DataFrame:
    """The metric table from per-epoch records, streamed in time order (one time point per epoch snapshot)."""
    accumulator = DynamicsAccumulator(num_examples)
    read_ids = ids is None and id_column is not None  # maps written before examples.parquet keep ids per epoch
    for _, columns in records:
        if read_ids and "id" in columns:
            if ids is None:
                ids = np.empty(num_examples, dtype=columns["id"].dtype)
            ids[columns["row"]] = columns["id"]
        for snapshot in np.unique(columns["snapshot"]):
            at = columns["snapshot"] == snapshot
            rows, gold = columns["row"][at], columns["gold"][at]
            score = el2n(columns["probs"][at], gold) if "probs" in columns else None
            accumulator.update(rows, columns["p_gold"][at], columns["correct"][at], columns["margin"][at], gold, score)
    table = accumulator.finalize()
    if id_column is not None:
        table.index = pd.Index(ids, name=id_column)
    else:
        table.index = pd.RangeIndex(num_examples, name=ROW)
    return table
