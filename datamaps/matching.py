"""Match the rows of a training batch to the examples of the training dataset by content.

Trainer callbacks never see which dataset rows a batch holds, and samplers (shuffling, length grouping,
distributed sharding, skipping on resume) all reorder them. So each example is identified by a fingerprint
of its token ids (padding removed via the attention mask): a batch row maps to the group of examples with
identical tokens, and at the end of an epoch each observation is assigned to one member of its group with
the same gold label. Examples with identical tokens and label are interchangeable, so every example is
recorded exactly once per epoch whatever the order, and extra copies (DistributedSampler padding) are dropped.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

LABEL_COLUMNS = ("labels", "label", "label_ids")


def fingerprint(token_ids: np.ndarray) -> int:
    """A 64-bit fingerprint of one sequence of token ids, the same in every process (unlike ``hash``)."""
    digest = hashlib.blake2b(np.ascontiguousarray(token_ids, dtype=np.int64).tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class ExampleIndex:
    """Fingerprints of every training example, grouped so that batch rows can be looked up in bulk.

    Memory is a few int64 arrays of length N (no Python dict), so a million examples cost tens of MB.
    """

    def __init__(self, fingerprints: np.ndarray, labels: np.ndarray | None = None):
        fingerprints = np.asarray(fingerprints, dtype=np.int64)
        self.fingerprints = fingerprints
        self.num_examples = len(fingerprints)
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        # A group is named by its first row, so group ids agree across processes and runs.
        self.unique_fingerprints, first_row, inverse = np.unique(fingerprints, return_index=True, return_inverse=True)
        self.group_first_row = first_row.astype(np.int64)
        self.group_of_row = self.group_first_row[inverse]
        self.group_size = np.bincount(self.group_of_row, minlength=self.num_examples)  # by group id (first row)
        self.all_unique = len(self.unique_fingerprints) == self.num_examples
        self._group_labels: tuple[pd.Series, pd.Series] | None = None

    @classmethod
    def from_token_ids(cls, sequences: Iterable, labels=None) -> ExampleIndex:
        return cls(np.fromiter((fingerprint(s) for s in sequences), dtype=np.int64), labels)

    @classmethod
    def from_dataset(cls, dataset, input_column: str = "input_ids", chunk_size: int = 10_000) -> ExampleIndex:
        """Index a tokenized ``datasets.Dataset`` (read through Arrow in chunks) or any map-style dataset."""
        if hasattr(dataset, "with_format") and hasattr(dataset, "column_names"):
            return cls(*dataset_fingerprints(dataset, input_column, chunk_size))
        label_column = next((c for c in LABEL_COLUMNS if c in _column_names(dataset)), None)
        items = [dataset[i] for i in range(len(dataset))]
        sequences = []
        for item in items:
            sequence = np.asarray(item[input_column])
            if "attention_mask" in item:
                sequence = sequence[np.asarray(item["attention_mask"]) != 0]
            sequences.append(sequence)
        labels = [int(item[label_column]) for item in items] if label_column else None
        return cls.from_token_ids(sequences, labels)

    def lookup(self, input_ids: np.ndarray, attention_mask: np.ndarray | None = None) -> np.ndarray:
        """Group ids (first row of each group) of the rows of a ``(B, L)`` batch; -1 where no example matches."""
        keys = np.empty(len(input_ids), dtype=np.int64)
        for i, row in enumerate(input_ids):
            keys[i] = fingerprint(row if attention_mask is None else row[attention_mask[i] != 0])
        position = np.searchsorted(self.unique_fingerprints, keys)
        position = np.minimum(position, len(self.unique_fingerprints) - 1)
        return np.where(self.unique_fingerprints[position] == keys, self.group_first_row[position], -1)

    def group_label(self, groups: np.ndarray) -> np.ndarray:
        """The gold label of each group, for batches whose labels were taken out before the forward pass."""
        if self.labels is None:
            raise ValueError("The training dataset has no label column to take gold labels from.")
        if self._group_labels is None:  # computed once, not per batch
            labels = pd.Series(self.labels).groupby(self.group_of_row).agg(["min", "max"])
            self._group_labels = labels["min"], labels["max"]
        low, high = (column.loc[groups].to_numpy() for column in self._group_labels)
        if (low != high).any():
            raise ValueError("Identical inputs carry different labels; pass `labels` in the batch.")
        return low

    def assign_rows(self, groups: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Assign observations (group, gold) in arrival order to distinct example rows.

        Returns ``(rows, kept)``: ``rows[kept]`` are the rows of the kept observations; an observation is
        dropped when its group has no further unassigned member with that label (a duplicate, such as
        DistributedSampler padding).
        """
        groups, gold = np.asarray(groups, dtype=np.int64), np.asarray(gold, dtype=np.int64)
        # Most examples are unique: their group is their row, and only the first observation counts.
        if self.all_unique:
            return groups, first_occurrences(groups, self.num_examples)
        rows = np.full(len(groups), -1, dtype=np.int64)
        kept = np.zeros(len(groups), dtype=bool)
        sizes = self.group_size[groups]
        single = np.flatnonzero(sizes == 1)
        rows[single] = groups[single]
        kept[single] = first_occurrences(groups[single], self.num_examples)
        shared = np.flatnonzero(sizes > 1)
        if len(shared):
            rows[shared], kept[shared] = self._assign_shared(groups[shared], gold[shared])
        return rows, kept

    def _assign_shared(self, groups: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The k-th observation of (group, label) takes the k-th member of that group with that label."""
        observations = pd.DataFrame({"group": groups, "gold": gold})
        observations["k"] = observations.groupby(["group", "gold"]).cumcount()
        member_rows = np.flatnonzero(self.group_size[self.group_of_row] > 1)
        members = pd.DataFrame({"group": self.group_of_row[member_rows], "row": member_rows})
        if self.labels is not None:
            members["gold"] = self.labels[member_rows]
        else:  # no labels in the dataset: every member of the group is eligible
            members = members.merge(observations[["group", "gold"]].drop_duplicates(), on="group")
        members["k"] = members.groupby(["group", "gold"]).cumcount()
        matched = observations.merge(members, on=["group", "gold", "k"], how="left")
        kept = matched["row"].notna().to_numpy()
        return matched["row"].fillna(-1).to_numpy(dtype=np.int64), kept


def dataset_fingerprints(dataset, input_column: str = "input_ids",
                         chunk_size: int = 10_000) -> tuple[np.ndarray, np.ndarray | None]:
    """The :func:`fingerprint` of every row of a tokenized ``datasets.Dataset`` (padding removed through the
    attention mask) and its integer labels (``None`` without a label column), read through Arrow in chunks."""
    if input_column not in dataset.column_names:
        raise ValueError(
            f"DataMapCallback matches batch rows to examples by {input_column!r}, but the training "
            f"dataset has columns {dataset.column_names}. Tokenize the dataset first, or use mode='eval'."
        )
    label_column = next((c for c in LABEL_COLUMNS if c in dataset.column_names), None)
    fingerprints = np.empty(len(dataset), dtype=np.int64)
    labels = np.empty(len(dataset), dtype=np.int64) if label_column else None
    arrow = dataset.with_format("arrow")
    for start in range(0, len(dataset), chunk_size):
        table = arrow[start : start + chunk_size]
        ids = _list_column(table.column(input_column))
        masks = _list_column(table.column("attention_mask")) if "attention_mask" in table.column_names else None
        for i, sequence in enumerate(ids):
            if masks is not None:
                sequence = sequence[masks[i] != 0]
            fingerprints[start + i] = fingerprint(sequence)
        if labels is not None:
            labels[start : start + len(ids)] = _label_values(table.column(label_column))
    return fingerprints, labels


def first_occurrences(keys: np.ndarray, size: int) -> np.ndarray:
    """True at the first occurrence of each key in ``[0, size)``; cheap when no key repeats (the usual case)."""
    counts = np.bincount(keys, minlength=size)
    if counts.max(initial=0) <= 1:
        return np.ones(len(keys), dtype=bool)
    kept = np.zeros(len(keys), dtype=bool)
    _, first = np.unique(keys, return_index=True)
    kept[first] = True
    return kept


def _column_names(dataset) -> list[str]:
    names = getattr(dataset, "column_names", None)
    if names is not None:
        return list(names)
    return list(dataset[0].keys()) if len(dataset) else []


def _list_column(column: pa.ChunkedArray) -> list[np.ndarray]:
    array = column.combine_chunks()
    if pa.types.is_fixed_size_list(array.type):
        width = array.type.list_size
        values = array.flatten().to_numpy(zero_copy_only=False)
        return list(values.reshape(-1, width))
    offsets = array.offsets.to_numpy()
    offsets = offsets - offsets[0]  # a sliced array's offsets start where its values begin
    values = array.flatten().to_numpy(zero_copy_only=False)
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(array))]


def _label_values(column: pa.ChunkedArray) -> np.ndarray:
    values = column.combine_chunks()
    if not (pa.types.is_integer(values.type) or pa.types.is_boolean(values.type)):
        raise ValueError(
            f"Labels must be integer class ids for a data map; the label column has type {values.type} "
            "(regression and multi-label targets are not supported yet)."
        )
    return values.to_numpy(zero_copy_only=False).astype(np.int64)
