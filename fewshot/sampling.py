"""K-shot sampling: K training examples per class, balanced and reproducible from a seed (the LM-BFF protocol)."""
from __future__ import annotations

from collections import Counter

import numpy as np
from datasets import Dataset


def sample_k_shot(dataset: Dataset, k: int, seed: int, *, label_column: str = "label") -> Dataset:
    """Return ``k`` examples of every class of ``dataset``, drawn at random with ``seed``.

    The result is a new ``Dataset`` (the input is not changed) ordered by a seeded shuffle, so that
    classes are interleaved. The same ``(dataset, k, seed)`` always gives the same examples.

    Parameters
    ----------
    dataset:
        A ``datasets.Dataset`` with a label column.
    k:
        Examples per class (K in the few-shot literature).
    seed:
        Data seed; the few-shot protocol repeats every experiment over several of them.
    label_column:
        Name of the label column.

    Raises
    ------
    ValueError
        When ``k < 1``, the dataset is empty, the label column is missing or has missing labels (``None``), or a
        class has fewer than ``k`` examples.

    Examples
    --------
    >>> train = Dataset.from_dict({"text": list("abcdef"), "label": [0, 1, 0, 1, 0, 1]})
    >>> sample_k_shot(train, k=2, seed=0)["label"].count(1)
    2
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer (examples per class), got {k!r}.")
    if not isinstance(dataset, Dataset):
        raise TypeError(f"sample_k_shot takes a datasets.Dataset, got {type(dataset).__name__}.")
    if label_column not in dataset.column_names:
        raise ValueError(
            f"Dataset has no label column {label_column!r}; it has {dataset.column_names}. Pass label_column=."
        )
    if len(dataset) == 0:
        raise ValueError("sample_k_shot got an empty dataset: there is nothing to sample from.")
    labels = list(dataset[label_column])
    unlabelled = sum(label is None for label in labels)
    if unlabelled:
        raise ValueError(
            f"Column {label_column!r} has {unlabelled} missing label(s) (None) out of {len(labels)}; K-shot sampling "
            f"needs a label on every row. Drop them first: dataset.filter(lambda row: row[{label_column!r}] is not None)."
        )
    labels = np.asarray(labels)
    counts = Counter(labels.tolist())
    short = {label: count for label, count in sorted(counts.items()) if count < k}
    if short:
        raise ValueError(
            f"Cannot sample k={k} examples per class: class(es) {short} (label: count) have fewer. "
            f"Use k <= {min(counts.values())} or a larger training set."
        )
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == label), size=k, replace=False) for label in sorted(counts)]
    indices = np.concatenate(chosen)
    rng.shuffle(indices)
    return dataset.select(indices.tolist())
