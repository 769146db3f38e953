"""``DataMap``: the analysis side of cartography, read from files written by ``DataMapCallback`` (or built from
arrays or allenai/cartography JSONL), saved back to the same format, matched to datasets by id or content."""
from __future__ import annotations

import logging
import numbers
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from greennlp._files import exclusive_folder, remove_stale_temporaries, write_json

from .alignment import ROW, dataset_rows
from .metrics import DynamicsAccumulator, el2n, gold_statistics
from .regions import assign_regions, has_variability, mixed_positions, no_regions_message, region_positions
from .storage import (
    DYNAMICS_DIR,
    EPOCH_COLUMNS,
    EXAMPLES_FILE,
    FORMAT_VERSION,
    METADATA_FILE,
    FileChangedError,
    epoch_path,
    list_epochs,
    read_cartography_jsonl,
    read_metadata,
    read_table,
    write_cartography_jsonl,
    write_table,
)

Records = Iterable[tuple[int, dict[str, np.ndarray]]]
#: Epoch files a map was loaded from: the folder, the epochs and each epoch file's SHA-256 as it was read.
Source = tuple[Path, list[int], dict[int, str]]
logger = logging.getLogger(__name__)
# How long DataMap.load keeps reading a folder that changes while it reads (a save or a training run writing it)
# before it gives up, and how long it waits between tries.
_LOAD_PATIENCE_S, _LOAD_RETRY_S = 10.0, 0.02
# Hidden folders of DataMap.save inside the map's folder: the new map while it is written, the old one while it
# is being replaced. Either one outside a running save was left by a killed save.
_SAVING, _REPLACED = ".greennlp-saving-", ".greennlp-replaced-"
# The parts of a map that DataMap.save replaces, in the order they move out (metadata.json first: a folder
# without it holds no map); they move in in the reverse order, metadata.json last.
_MAP_PARTS = (METADATA_FILE, EXAMPLES_FILE, DYNAMICS_DIR)


class DataMap:
    """Per-example training-dynamics metrics and map regions.

    ``table`` is a pandas DataFrame with one row per example, indexed by example id: the index is named after the
    dataset column that holds the ids (``id_column``), or ``row`` when the ids are the row positions of the dataset
    the map was recorded on. Columns: ``confidence``, ``variability``, ``correctness``, ``forgetfulness``, ``aum``,
    ``el2n`` (when probabilities were stored), ``observations``, ``gold`` and ``region``. Metric definitions:
    :mod:`datamaps.metrics`; region definition: :mod:`datamaps.regions`.

    Build one with :meth:`load`, :meth:`from_arrays`, :meth:`from_logits` or :meth:`from_cartography_jsonl`;
    write it with :meth:`save` (read back by :meth:`load`) or :meth:`to_cartography_jsonl`.

    Parameters
    ----------
    table : pandas.DataFrame
        The per-example metrics above, one row per example; it is copied and its ``region`` column computed
        again. An unnamed index is named ``row`` when it is a RangeIndex 0, 1, 2, ... (row positions), else ``id``.
    metadata : dict, optional
        Provenance kept with the map (``mode``, ``epochs_used``, ``num_labels``, ...) and written to
        ``metadata.json`` by :meth:`save`; its ``id_column`` and ``region_fraction`` are set from this map.
    region_fraction : float, default 1/3
        Share, in (0, 1] and rounded half up, of the examples observed at least twice that form the
        ``ambiguous`` region (the most variable ones).

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
        _warn_about_regions(table)
        self.table = table
        self.region_fraction = region_fraction
        self.metadata = {**(metadata or {}), "id_column": self.id_column, "region_fraction": region_fraction}
        self._records: list[tuple[int, dict[str, np.ndarray]]] | None = None  # in memory (arrays, JSONL)
        self._source: Source | None = None  # or epoch files on disk (load), with their digests
        self._fingerprints: np.ndarray | None = None  # token fingerprint per example, in table order

    # --- construction --------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike, *, epochs: Iterable[int] | None = None, burn_in: int = 0,
             region_fraction: float | None = None) -> DataMap:
        """Read a map written by ``DataMapCallback`` or :meth:`save`, streaming epoch files (O(examples) memory).

        ``epochs`` picks recorded epochs by index; ``burn_in`` skips that many of the first ones (early epochs
        of training from scratch say little about the data). ``region_fraction`` defaults to the saved one (1/3).

        The map is the one the folder held when it was read. A save (or a training run) that changes the folder
        during the read makes the load start again, for up to 10 seconds, and then fail saying so. The epoch files
        are read again later only by :meth:`save` and :meth:`to_cartography_jsonl`, and there a file that has
        changed since the load is refused.
        """
        path = Path(path)
        epochs = None if epochs is None else list(epochs)  # read once: the load may start again
        deadline = time.monotonic() + _LOAD_PATIENCE_S
        while True:
            before = _metadata_bytes(path)
            if before is None:
                unfinished = _unfinished_saves(path)
                if not unfinished:
                    read_metadata(path)  # raises: no map here
                if time.monotonic() < deadline:
                    time.sleep(_LOAD_RETRY_S)
                    continue
                raise FileNotFoundError(
                    f"No data map in {str(path)!r} yet: {METADATA_FILE} is missing and {unfinished[0].name} holds "
                    f"an unfinished DataMap.save (one still running after {_LOAD_PATIENCE_S:.0f} s, or one that was "
                    "killed). Load it again when the save is done; if no save is running, save the map again.")
            try:
                read = _read_map(path, before, epochs, burn_in)
            except Exception:
                if _metadata_bytes(path) == before:
                    raise  # the folder did not change while it was read: the error is the map's
                read = None
            if read is not None and _metadata_bytes(path) == before:
                break
            if time.monotonic() >= deadline:
                raise ValueError(
                    f"The map in {str(path)!r} kept changing while it was read for {_LOAD_PATIENCE_S:.0f} s: another "
                    "process keeps saving into it (DataMap.save) or training writes it (DataMapCallback). Load it "
                    "when that process is done.")
            time.sleep(_LOAD_RETRY_S)  # the folder changed while it was read: read it again
        metadata, available, source, examples, per_epoch, table = read
        _warn_if_incomplete(path, metadata, available, per_epoch, table)
        if region_fraction is None:
            region_fraction = metadata.get("region_fraction", 1 / 3)
        data_map = cls(table, {**metadata, "epochs_used": source[1]}, region_fraction=region_fraction)
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
        p_gold = _numbers("p_gold", p_gold)
        if p_gold.ndim != 2:
            raise ValueError(f"p_gold must have shape (num_examples, num_time_points); got {p_gold.shape}.")
        recorded = ~np.isnan(p_gold)
        if ((p_gold[recorded] < 0) | (p_gold[recorded] > 1)).any():
            raise ValueError(f"p_gold must hold probabilities in [0, 1] (NaN = not recorded); got values from "
                             f"{p_gold[recorded].min()} to {p_gold[recorded].max()}.")
        correct, margin = np.asarray(_on_host(correct), dtype=bool), _numbers("margin", margin)
        if correct.shape != p_gold.shape or margin.shape != p_gold.shape:
            raise ValueError(f"p_gold, correct and margin must have the same (num_examples, num_time_points) shape; "
                             f"got {p_gold.shape}, {correct.shape} and {margin.shape}.")
        if not np.isfinite(margin[recorded]).all():
            raise ValueError("margin must be finite wherever p_gold is recorded (not NaN); "
                             f"{int((~np.isfinite(margin[recorded])).sum())} entries are NaN or infinite.")
        if probabilities is not None:
            probabilities = _numbers("probabilities", probabilities)
            if probabilities.ndim != 3 or probabilities.shape[:2] != p_gold.shape:
                raise ValueError(f"probabilities must have shape (num_examples, num_time_points, num_labels) = "
                                 f"({p_gold.shape[0]}, {p_gold.shape[1]}, num_labels); got {probabilities.shape}.")
        gold = _class_ids(gold, len(p_gold), probabilities.shape[2] if probabilities is not None else None)
        if ids is not None:
            ids = _example_ids(ids, len(p_gold))
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
        logits = _numbers("logits", logits, np.float32)
        if logits.ndim != 3 or logits.shape[2] < 2:
            raise ValueError(f"logits must have shape (num_examples, num_time_points, num_labels) with at least 2 "
                             f"labels; got {logits.shape}.")
        n, steps, classes = logits.shape
        missing = np.isnan(logits).all(-1)
        broken = np.argwhere(~missing & ~np.isfinite(logits).all(-1))
        if len(broken):
            example, step = broken[0]
            raise ValueError(
                f"logits[{example}, {step}] = {logits[example, step].tolist()} holds NaN or infinite values "
                f"({len(broken)} such rows). Logits must be finite; a row of NaN marks an example not recorded at "
                "that time point."
            )
        gold = torch.as_tensor(_class_ids(gold, n, classes))
        logits, missing = torch.as_tensor(logits), torch.as_tensor(missing)
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
        for t, (_, epoch_guids, epoch_logits, epoch_gold) in enumerate(epochs):  # checked by the reader
            rows = np.fromiter((position[g] for g in epoch_guids), dtype=np.int64, count=len(epoch_guids))
            logits[rows, t] = epoch_logits
            gold[rows] = epoch_gold
        metadata = {"mode": "cartography-jsonl", "epochs_used": [e for e, *_ in epochs], "num_labels": classes}
        return cls.from_logits(logits, gold, ids=np.asarray(guids), id_column=id_column, metadata=metadata,
                               region_fraction=region_fraction)

    @classmethod
    def from_probe(cls, embeddings, labels, *, epochs: int = 10, snapshots_per_epoch: int = 1,
                   learning_rate: float = 1e-3, batch_size: int = 32, weight_decay: float = 0.0,
                   num_labels: int | None = None, seed: int = 0, ids=None, id_column: str | None = None,
                   region_fraction: float = 1 / 3) -> DataMap:
        """The map of a linear probe: a softmax classifier trained with minibatch Adam on frozen ``embeddings``
        ``(N, d)`` (e.g. ``encoders.embed``), every example scored at each of ``snapshots_per_epoch`` evenly spaced
        points of each of ``epochs`` epochs. Embedding the data costs one forward pass of the encoder; the probe
        itself costs next to nothing, so the map is far cheaper than a fine-tuning run's (its price:
        ``budgets.cheap_map``). Seeded by ``seed`` alone. Details: :func:`datamaps.cheap.probe_logits`.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> labels = rng.integers(0, 2, 200)
        >>> embeddings = rng.normal(size=(200, 8)) + labels[:, None]
        >>> probe_map = DataMap.from_probe(embeddings, labels, epochs=4)
        >>> len(probe_map), probe_map.metadata["epochs_used"]
        (200, [0, 1, 2, 3])
        """
        from .cheap import probe_logits

        logits, gold = probe_logits(embeddings, labels, num_labels=num_labels, epochs=epochs,
                                    snapshots_per_epoch=snapshots_per_epoch, learning_rate=learning_rate,
                                    batch_size=batch_size, weight_decay=weight_decay, seed=seed)
        metadata = {"mode": "probe", "epochs": epochs, "snapshots_per_epoch": snapshots_per_epoch,
                    "learning_rate": learning_rate, "batch_size": batch_size, "seed": seed,
                    "embedding_dim": int(np.shape(embeddings)[1])}
        return cls.from_logits(logits, gold, ids=ids, id_column=id_column, metadata=metadata,
                               region_fraction=region_fraction)

    def extend(self, embeddings, gold, *, rows, neighbours: int = 10, ids=None, id_column: str | None = None,
               region_fraction: float | None = None) -> DataMap:
        """A map of a whole dataset from this map of a sample of it, by nearest neighbours in embedding space.

        ``embeddings`` ``(N, d)`` and ``gold`` ``(N,)`` describe every row of the dataset; ``rows`` gives the dataset
        row of each example of this map, in table order (e.g. ``data_map.dataset_rows(sample)`` mapped through the
        sample's rows in the dataset). A mapped row keeps its records; every other row gets, at each time point,
        the mean probability vector of its ``neighbours`` nearest mapped rows, read at its own gold label
        (:func:`datamaps.cheap.extended_arrays`). The new map is keyed by ``ids`` (one per dataset row, found in
        the dataset column ``id_column``, default ``"id"``) or else by row position; its time points are numbered
        0, 1, ... in this map's time order.

        Examples
        --------
        >>> whole = data_map.extend(embeddings, train["label"], rows=sample_rows)     # doctest: +SKIP
        >>> select_by_region(train, whole, "ambiguous", fraction=0.33)               # doctest: +SKIP
        """
        from .cheap import extended_arrays, record_arrays

        arrays = record_arrays(self._records_or_error(), len(self))
        extended = extended_arrays(arrays, embeddings, gold, rows=rows, neighbours=neighbours,
                                   num_labels=self.metadata.get("num_labels"))
        metadata = {"mode": "extended", "mapped_examples": len(self), "neighbours": int(neighbours),
                    "num_labels": extended["probs"].shape[2], "epochs_used": list(range(len(arrays["time_points"]))),
                    "source_time_points": [list(point) for point in arrays["time_points"]],
                    "source_mode": self.metadata.get("mode")}
        return DataMap.from_arrays(extended["p_gold"], extended["correct"], extended["margin"], extended["gold"],
                                   probabilities=extended["probs"], ids=ids, id_column=id_column, metadata=metadata,
                                   region_fraction=self.region_fraction if region_fraction is None
                                   else region_fraction)

    # --- files ---------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the map in the ``DataMapCallback`` format (one Parquet file per epoch, ``examples.parquet``,
        ``metadata.json``; each written atomically, ``metadata.json`` last); :meth:`load` reads it back.

        Refuses a folder that already holds a map unless ``overwrite=True``. The new map is written whole into a
        hidden folder inside ``path`` first, then moved into place by renames (``metadata.json`` last), so a save
        that fails (a full disk, an epoch file that changed since this map was loaded) leaves the folder's previous
        map as it was. Returns ``path``.
        """
        path = Path(path)
        if self._source is not None and path.resolve() == self._source[0].resolve():
            raise ValueError(f"This map was read from {str(path)!r}; save it to another folder.")
        records = self._records_or_error()
        with exclusive_folder(path, owner="DataMap.save"):
            if ((path / METADATA_FILE).exists() or list_epochs(path)) and not overwrite:
                raise FileExistsError(f"{str(path)!r} already holds a data map; pass overwrite=True to replace it.")
            remove_stale_temporaries(path, recursive=True)  # left by killed writes; we hold the folder
            for unfinished in _unfinished_saves(path):  # left by killed saves, likewise
                shutil.rmtree(unfinished, ignore_errors=True)
            staging = Path(tempfile.mkdtemp(prefix=_SAVING, dir=path))
            try:
                epochs = []
                for epoch, columns in records:
                    write_table(epoch_path(staging, epoch), columns)
                    epochs.append(epoch)
                examples = {"row": np.arange(len(self), dtype=np.int64)}
                if self.id_column is not None:
                    examples["id"] = self.table.index.to_numpy()
                if self._fingerprints is not None:
                    examples["fingerprint"] = np.asarray(self._fingerprints, dtype=np.int64)
                write_table(staging / EXAMPLES_FILE, examples)
                # save_id: two saves of one map differ, so a load can tell that the folder changed while it read
                metadata = {**self.metadata, "format_version": FORMAT_VERSION, "num_examples": len(self),
                            "epochs": epochs, "epochs_used": epochs, "save_id": uuid.uuid4().hex}
                write_json(staging / METADATA_FILE, metadata)
                _move_into_place(staging, path)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
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
    def _select(self, region: str, *, fraction: float | None = None, threshold: float | None = None,
                seed: int = 0, mix: dict[str, float] | None = None) -> pd.Index:
        """Ids of the examples selected for ``region``, best first (rule: :mod:`datamaps.regions`); the public door
        is :func:`greennlp.filters.select_by_region` (``return_ids=True`` for these ids).

        No ``fraction`` and no ``threshold``: the whole region. ``fraction``: that share of the whole map, from the
        region's best-ranked members. ``threshold``: the members past it (ambiguous: variability >= t; easy-to-learn:
        confidence >= t; hard-to-learn: confidence <= t). ``seed`` breaks ties. ``mix`` (with ``fraction``): shares
        of the selection drawn at random from other regions, e.g. ``mix={"easy-to-learn": 0.25}``, the paper's
        remedy when the ambiguous examples alone train badly.
        """
        if mix:
            if threshold is not None:
                raise ValueError("`mix` takes a `fraction`, not a `threshold`.")
            return self.table.index[mixed_positions(self.table, region, fraction, mix, seed)]
        return self.table.index[region_positions(self.table, region, fraction, threshold, seed)]

    def select_coverage(self, *, fraction: float, by: str = "aum", prune_hardest: float = 0.05, strata: int = 50,
                        seed: int = 0) -> pd.Index:
        """Ids chosen by coverage-centric selection (CCS, Zheng et al. 2023) over the ``by`` column (higher =
        easier: ``aum``, ``confidence``, ``correctness``): drop the hardest ``prune_hardest`` share, then sample
        evenly across ``strata`` equal-width difficulty bins. See :mod:`datamaps.coverage`.

        Examples
        --------
        >>> ids = data_map.select_coverage(fraction=0.33)  # doctest: +SKIP
        >>> subset = train.select(sorted(data_map.dataset_rows(train)[ids]))  # doctest: +SKIP
        """
        from .coverage import coverage_positions

        if by not in ("aum", "confidence", "correctness"):
            raise ValueError(f"by={by!r}: CCS ranks by a difficulty score where higher is easier; choose 'aum', "
                             "'confidence' or 'correctness'.")
        if isinstance(strata, bool) or not isinstance(strata, numbers.Integral) or strata < 1:
            raise ValueError(f"strata={strata!r}: give a positive whole number of bins (an int, e.g. 50), the number "
                             "of equal-width difficulty bins that the selection is spread across.")
        scores = self.table[by].to_numpy(dtype=np.float64)
        positions = coverage_positions(scores, fraction, prune_hardest=prune_hardest, strata=strata, seed=seed)
        return self.table.index[positions]

    def trajectories(self, kind: str = "p_gold") -> pd.DataFrame:
        """Each example's value at every recorded time point: one row per example (indexed like ``table``), one
        column per time point in time order (a MultiIndex of ``epoch`` and ``snapshot``); NaN where an example was
        not recorded. ``kind``: ``"p_gold"`` (probability of the gold label), ``"loss"`` (its cross-entropy,
        ``-log p(gold)``) or ``"margin"`` (gold logit minus the largest other). Needs the per-epoch records
        (a map from :meth:`load`, :meth:`from_arrays`, :meth:`from_logits`, ...).

        Examples
        --------
        >>> loss = data_map.trajectories("loss")   # doctest: +SKIP
        """
        from .cheap import record_arrays, trajectory_values

        arrays = record_arrays(self._records_or_error(), len(self))
        columns = pd.MultiIndex.from_tuples(arrays["time_points"], names=["epoch", "snapshot"])
        return pd.DataFrame(trajectory_values(arrays, kind), index=self.table.index, columns=columns)

    def select_trajectories(self, *, fraction: float, clusters: int = 100, kind: str = "loss",
                            seed: int = 0) -> pd.Index:
        """Ids chosen by trajectory clustering (SmallToLarge, S2L; Yang et al. 2024): k-means with ``clusters``
        clusters on the examples' :meth:`trajectories` of ``kind`` (loss by default, as in the paper), then an
        even draw: from the smallest cluster up, each gives an equal share of what is left of the budget, at
        random within the cluster. The count is exact (``fraction`` of the map, rounded half up) and the choice is
        fixed by ``seed``. Details: :func:`datamaps.cheap.trajectory_positions`.

        Examples
        --------
        >>> ids = data_map.select_trajectories(fraction=0.33)  # doctest: +SKIP
        >>> subset = train.select(sorted(data_map.dataset_rows(train)[ids]))  # doctest: +SKIP
        """
        from .cheap import trajectory_positions

        values = self.trajectories(kind).to_numpy(dtype=np.float64)
        return self.table.index[trajectory_positions(values, fraction, clusters=clusters, seed=seed)]

    def scores(self, column: str) -> pd.Series:
        """One metric column as a Series indexed by example id (input to score-based selection).

        ``variability`` is NaN for an example observed once, and raises when no example was observed twice
        (see :mod:`datamaps.regions`).
        """
        if column not in self.table.columns:
            raise KeyError(f"No column {column!r} in this data map; it has {list(self.table.columns)}.")
        if column != "variability":
            return self.table[column]
        reason = no_regions_message(self.table)
        if reason is not None:
            raise ValueError(f"Cannot rank by variability: {reason}.")
        return self.table[column].where(has_variability(self.table))  # NaN: observed once, variability undefined

    def label_errors(self, *, by: str = "aum", count: int | None = None, seed: int = 0) -> pd.DataFrame:
        """Examples ranked most likely mislabelled first: lowest AUM (``by="aum"``) or lowest confidence in the
        gold label (``by="confidence"``). See :func:`datamaps.label_errors.rank_label_errors`.

        Returns a DataFrame indexed by example id, in rank order, with ``rank``, ``score`` and the example's
        ``gold``, ``confidence``, ``aum``, ``correctness`` and ``region``; ``count`` keeps the first ones (e.g. the
        expected number of errors). Unlike confident learning it needs no cross-validation: one training run.

        Examples
        --------
        >>> suspects = data_map.label_errors(count=100)  # doctest: +SKIP
        >>> dataset.select(data_map.dataset_rows(dataset)[suspects.index])  # doctest: +SKIP
        """
        from .label_errors import rank_label_errors

        return rank_label_errors(self.table, by=by, count=count, seed=seed)

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

    def plot_interactive(self, path: str | os.PathLike, *, texts=None, text_column: str = "text",
                         label_names=None, title: str | None = None, max_points: int | None = None, seed: int = 0):
        """Write the map as one self-contained HTML file (plotly.js embedded: opens offline); returns the plotly
        ``Figure``. Needs ``pip install 'greennlp[interactive]'``.

        Hovering a point shows its id, gold label, metrics and, given ``texts`` (a list in table order, a Series
        indexed by id, or the dataset the map was recorded on with its ``text_column``), its text. The regions
        are shaded and a menu shows one region at a time. Details: :func:`datamaps.interactive.write_interactive_map`.

        Examples
        --------
        >>> data_map.plot_interactive("map.html", texts=dataset, label_names=["negative", "positive"])  # doctest: +SKIP
        """
        from .interactive import write_interactive_map

        return write_interactive_map(self, path, texts=texts, text_column=text_column, label_names=label_names,
                                     title=title, max_points=max_points, seed=seed)

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        counts = self.table["region"].value_counts().to_dict()
        return f"DataMap({len(self)} examples, epochs={self.metadata.get('epochs_used')}, regions={counts})"


def _metadata_bytes(folder: Path) -> bytes | None:
    """The bytes of the map's ``metadata.json``; ``None`` when there is none."""
    try:
        return (folder / METADATA_FILE).read_bytes()
    except FileNotFoundError:
        return None


def _unfinished_saves(folder: Path) -> list[Path]:
    """The hidden folders of DataMap.save runs in ``folder``: running, or killed."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [Path(entry.path) for entry in entries
            if entry.name.startswith((_SAVING, _REPLACED)) and entry.is_dir(follow_symlinks=False)]


def _read_map(folder: Path, metadata_bytes: bytes, epochs: list[int] | None, burn_in: int):
    """Read the map in ``folder`` whose ``metadata.json`` holds ``metadata_bytes``; nothing is logged, so that a
    read of a folder that changed meanwhile can be dropped without a trace."""
    metadata = read_metadata(folder, data=metadata_bytes)
    num_examples = metadata["num_examples"]
    available = list_epochs(folder)
    chosen = [e for e in available if epochs is None or e in epochs][burn_in:]
    if not chosen:
        raise ValueError(
            f"No recorded epochs to analyse in {str(folder)!r} (recorded: {available}, epochs={epochs}, "
            f"burn_in={burn_in}). Did training finish at least one epoch?"
        )
    examples_file = folder / EXAMPLES_FILE
    examples = read_table(examples_file, required=("row",)) if examples_file.is_file() else {}
    if examples and len(examples["row"]) != num_examples:
        raise ValueError(
            f"{str(folder / METADATA_FILE)!r} says the map has num_examples={num_examples}, but "
            f"{str(examples_file)!r} lists {len(examples['row'])} examples: the files come from different runs. "
            "Restore the matching files, or record the map again."
        )
    per_epoch: dict[int, int] = {}
    digests: dict[int, str] = {}
    table = _aggregate(_read_epochs((folder, chosen, {}), num_examples, per_epoch, digests), num_examples,
                       metadata.get("id_column"), examples.get("id"))
    return metadata, available, (folder, chosen, digests), examples, per_epoch, table


def _move_into_place(staging: Path, folder: Path) -> None:
    """Replace the map in ``folder`` by the one written in ``staging``, by renames: the old map's parts move out
    into a hidden folder, the new ones move in (:data:`_MAP_PARTS` gives the order), then the old ones are deleted.
    A rename that fails puts the old map back."""
    replaced = Path(tempfile.mkdtemp(prefix=_REPLACED, dir=folder))
    moved_out, moved_in = [], []
    try:
        for name in _MAP_PARTS:
            if (folder / name).exists():
                os.replace(folder / name, replaced / name)
                moved_out.append(name)
        for name in reversed(_MAP_PARTS):
            if (staging / name).exists():
                os.replace(staging / name, folder / name)
                moved_in.append(name)
    except BaseException:
        for name in reversed(moved_in):
            os.replace(folder / name, staging / name)
        for name in reversed(moved_out):
            os.replace(replaced / name, folder / name)
        replaced.rmdir()
        raise
    shutil.rmtree(replaced, ignore_errors=True)


def _read_epochs(source: Source, num_examples: int | None = None, per_epoch: dict[int, int] | None = None,
                 digests: dict[int, str] | None = None) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Epoch files in order, checked: required columns, rows in ``[0, num_examples)``, each example at most once
    per snapshot, and the file's SHA-256 the one in ``source`` (when it has one). ``per_epoch`` receives the number
    of distinct examples of each epoch, ``digests`` the SHA-256 of each file read."""
    folder, epochs, expected = source
    for epoch in epochs:
        path = epoch_path(folder, epoch)
        if not path.is_file():
            raise FileNotFoundError(f"The map was read from {str(folder)!r}, which no longer holds epoch {epoch} "
                                    f"({path.name}); load it again from where it is now.")
        found: dict[str, str] = {}
        try:
            columns = read_table(path, required=EPOCH_COLUMNS, digest=expected.get(epoch), digests=found)
        except FileChangedError:
            raise ValueError(
                f"{str(path)!r} has changed since this map was loaded from {str(folder)!r} (a save or a training run "
                "has rewritten the folder since), so it no longer holds this map's records. To use the map the "
                "folder holds now, load it again with DataMap.load."
            ) from None
        if digests is not None:
            digests[epoch] = found[str(path)]
        rows = columns["row"].astype(np.int64)
        if num_examples is not None and len(rows) and (rows.min() < 0 or rows.max() >= num_examples):
            bad = rows[(rows < 0) | (rows >= num_examples)]
            raise ValueError(
                f"{str(path)!r} records example row {int(bad[0])} ({len(bad)} rows out of range), but "
                f"{str(folder / METADATA_FILE)!r} says the map has num_examples={num_examples} (rows 0 to "
                f"{num_examples - 1}): the files come from different runs. Restore the matching metadata.json, or "
                "record the map again."
            )
        snapshots = columns["snapshot"].astype(np.int64)
        keys = pd.MultiIndex.from_arrays([snapshots, rows])
        if keys.has_duplicates:
            snapshot, row = keys[keys.duplicated()][0]
            raise ValueError(f"{str(path)!r} records example row {row} twice at snapshot {snapshot}; an epoch file "
                             "holds each example once per snapshot. Record the map again.")
        if per_epoch is not None:
            per_epoch[epoch] = len(np.unique(rows))
        yield epoch, columns


def _warn_if_incomplete(folder: Path, metadata: dict[str, Any], available: list[int], per_epoch: dict[int, int],
                        table: pd.DataFrame) -> None:
    """Log what a loaded map lacks: epochs without a file, epochs with fewer examples, examples never recorded."""
    # A map written by DataMapCallback starts at epoch 0; one written by DataMap.save starts where its first
    # saved epoch was (burn_in, epochs=...).
    first = min(metadata.get("epochs_used") or [0])
    expected = set(range(first, max(available) + 1)) | set(metadata.get("epochs") or [])
    missing = sorted(expected - set(available))
    if missing:
        logger.warning("DataMap.load: the map in %r is incomplete: epochs %s have no file in %s/ (files for epochs "
                       "%s). Their training was not recorded, or was lost; the map holds the others.",
                       str(folder), missing, epoch_path(folder, 0).parent.name, available)
    # DataMapCallback marks an epoch whose first part it could not restore on resume (metadata "epoch_records").
    cut = {int(epoch): record for epoch, record in (metadata.get("epoch_records") or {}).items()
           if not record.get("complete", True) and int(epoch) in per_epoch}
    if cut:
        logger.warning("DataMap.load: the map in %r is incomplete: epochs %s were resumed without the record of their "
                       "first part (recorded / examples: %s). Their examples have fewer observations; train again "
                       "from the start of those epochs for a complete map.", str(folder), sorted(cut),
                       {epoch: f"{r.get('recorded')}/{r.get('examples')}" for epoch, r in sorted(cut.items())})
    most = max(per_epoch.values())
    short = {epoch: count for epoch, count in per_epoch.items() if count < most and epoch not in cut}
    if short:
        logger.warning("DataMap.load: the map in %r is incomplete: epochs %s record fewer examples than the others "
                       "(examples per epoch: %s). An epoch was cut short (a crash or a resume that lost records); "
                       "its examples have fewer observations.", str(folder), sorted(short), per_epoch)
    never = int((table["observations"] == 0).sum())
    if never:
        logger.warning("DataMap.load: %d of the %d examples in %r (num_examples in %s) have no record in epochs "
                       "%s: they get NaN metrics and no region. dataloader_drop_last=True leaves out the last "
                       "incomplete batch; many more than a batch means %s does not belong to these epoch files.",
                       never, len(table), str(folder), METADATA_FILE, sorted(per_epoch), METADATA_FILE)


def _warn_about_regions(table: pd.DataFrame) -> None:
    reason = no_regions_message(table)
    if reason is not None:
        logger.warning("DataMap: this map has no regions: %s.", reason)
        return
    once = ~np.isnan(table["confidence"].to_numpy(dtype=np.float64)) & ~has_variability(table)
    if once.any():
        logger.warning("DataMap: %d of the %d examples were observed once; their variability is undefined and they "
                       "have no region (see datamaps.regions).", int(once.sum()), len(table))


def _on_host(values):
    """A torch tensor on the host as numpy can read it (logits computed on a GPU, or in bf16); others unchanged."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu()
        return values.float() if values.dtype == torch.bfloat16 else values
    return values


def _numbers(name: str, values, dtype=np.float64) -> np.ndarray:
    try:
        return np.asarray(_on_host(values), dtype=dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be an array of numbers (NaN = not recorded); it could not be read as one: "
                         f"{error}.") from None


def _class_ids(gold, num_examples: int, num_labels: int | None) -> np.ndarray:
    """``gold`` as int64 class ids, one per example, in ``[0, num_labels)``; a clear error otherwise."""
    values = np.asarray(_on_host(gold))
    if values.shape != (num_examples,):
        raise ValueError(f"gold must hold one label per example: shape ({num_examples},); got {values.shape}.")
    if values.dtype.kind == "O":
        nones = [i for i, value in enumerate(values) if value is None]
        if nones:
            raise ValueError(f"gold[{nones[0]}] is None ({len(nones)} labels are None); every example needs its "
                             "class id.")
        values = np.asarray(values.tolist())
    if values.dtype.kind in "USO":
        raise ValueError(f"gold must hold class ids (integers); got {values.dtype} values such as {values[:3].tolist()}"
                         ". Map label names to ids first, e.g. with the dataset's ClassLabel (str2int).")
    if values.dtype.kind == "f":
        whole = np.isfinite(values) & (values == np.round(values))
        if not whole.all():
            at = int(np.flatnonzero(~whole)[0])
            raise ValueError(f"gold must hold class ids (integers); gold[{at}] = {values[at]}.")
    values = values.astype(np.int64)
    upper = num_labels if num_labels is not None else np.inf
    outside = np.flatnonzero((values < 0) | (values >= upper))
    if len(outside):
        at = int(outside[0])
        allowed = f"[0, {num_labels - 1}] for {num_labels} labels" if num_labels is not None else ">= 0"
        raise ValueError(f"gold[{at}] = {values[at]} is not a class id: gold must be in {allowed} "
                         f"({len(outside)} labels are out of range).")
    return values


def _example_ids(ids, num_examples: int) -> np.ndarray:
    """``ids`` as an array of distinct strings or integers, one per example; a clear error otherwise."""
    # A list is read element by element: numpy would turn ["a", 1] into strings and [1, None] into objects.
    values = np.asarray(ids) if hasattr(ids, "__array__") else np.asarray(ids, dtype=object)
    if values.shape != (num_examples,):
        raise ValueError(f"ids must hold one id per example: shape ({num_examples},); got {values.shape}.")
    if values.dtype.kind == "O":
        bad = [i for i, value in enumerate(values)
               if isinstance(value, bool) or not isinstance(value, (str, int, np.integer))]
        if bad:
            raise ValueError(f"ids[{bad[0]}] is {values[bad[0]]!r}; ids must be strings or integers, none missing "
                             f"({len(bad)} are not).")
        kinds = {isinstance(value, str) for value in values}
        if len(kinds) > 1:
            raise ValueError("ids mix strings and integers; use one type (e.g. all strings).")
        values = np.asarray(values.tolist())
    if values.dtype.kind not in "iuU" and values.size:
        raise ValueError(f"ids must be strings or integers; got {values.dtype} values such as "
                         f"{values[:3].tolist()}.")
    duplicated = pd.Index(values).duplicated()
    if duplicated.any():
        raise ValueError(f"ids must hold one distinct id per example; {int(duplicated.sum())} repeat an earlier one "
                         f"(e.g. {values[duplicated][:3].tolist()}).")
    return values


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
