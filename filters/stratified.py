"""Score-based selection beyond one end of the ranking: both ends and the middle (``select_by_score(keep=...)``),
and class-stratified or class-balanced subsets (including the stratified random baseline).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from datasets import Dataset

from greennlp.datamaps import DataMap
from greennlp.datamaps.alignment import ROW
from greennlp.datamaps.regions import count_for_fraction, top_positions

from .selection import rows_of

KEEP_CHOICES = ("highest", "lowest", "both", "middle", "random")


def keep_positions(scores, fraction: float | None = None, threshold=None, keep: str = "highest",
                   seed: int = 0) -> np.ndarray:
    """Positions of the kept items (unsorted), for every ``keep`` mode.

    ``highest`` / ``lowest``: the top or bottom ``fraction``, or the items >= / <= ``threshold``.
    ``both``: half of ``fraction`` from each end (the extra item of an odd count from the top), or the items
    <= ``threshold[0]`` or >= ``threshold[1]``. ``middle``: ``fraction`` from the centre of the ranking, dropping
    equal tails, or the items inside ``[threshold[0], threshold[1]]``. ``random``: a seeded random ``fraction``.
    Counts are exact: ``round_half_up(fraction * n)``. Ties are broken by a seeded permutation.
    """
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep={keep!r}; choose one of {list(KEEP_CHOICES)}.")
    scores = np.asarray(scores, dtype=np.float64)
    if (fraction is None) == (threshold is None):
        raise ValueError("Give exactly one of `fraction` (e.g. 0.33) or `threshold`.")
    if keep in ("highest", "lowest"):
        return top_positions(scores, fraction, threshold, keep == "highest", seed)
    if threshold is not None:
        if keep == "random":
            raise ValueError("keep='random' takes a fraction, not a threshold.")
        try:
            low, high = (float(value) for value in threshold)
        except (TypeError, ValueError):
            raise ValueError(f"keep={keep!r} needs threshold=(low, high); got {threshold!r}.") from None
        if low > high:
            raise ValueError(f"threshold=(low, high) needs low <= high; got {threshold!r}.")
        inside = (scores >= low) & (scores <= high)
        return np.flatnonzero(inside if keep == "middle" else ((scores <= low) | (scores >= high)))
    count = count_for_fraction(fraction, len(scores))
    if keep == "random":
        return np.random.default_rng(seed).permutation(len(scores))[:count]
    order = top_positions(scores, fraction=1.0, highest=True, seed=seed)  # full ranking, best first
    if keep == "both":
        from_top = (count + 1) // 2
        return np.concatenate([order[:from_top], order[len(order) - (count - from_top):]])
    start = (len(order) - count) // 2
    return order[start : start + count]


def _aligned_scores(dataset: Dataset, scores, id_column: str | None,
                    data_map: DataMap | None) -> tuple[np.ndarray, str | None]:
    """One score per dataset row, from an array, a Series (keyed by id or row) or a column name; and the dataset
    column that names the rows' ids (``None``: row positions)."""
    if isinstance(scores, str) and data_map is not None:
        scores = data_map.scores(scores)
    if isinstance(scores, str):
        if scores not in dataset.column_names:
            raise ValueError(f"unknown score {scores!r}: it is not a column of the dataset "
                             f"({dataset.column_names}). Pass a column name, an array or a Series.")
        values = np.asarray(dataset[scores], dtype=np.float64)
    elif isinstance(scores, pd.Series):
        rows = rows_of(dataset, scores.index, id_column=id_column, data_map=data_map)
        values = np.full(len(dataset), np.nan)
        values[rows] = scores.to_numpy(dtype=np.float64)
        if id_column is None:
            name = data_map.id_column if data_map is not None else scores.index.name
            id_column = None if name == ROW else name
    else:
        values = np.asarray(scores, dtype=np.float64)
        if values.shape != (len(dataset),):
            raise ValueError(f"got scores of shape {values.shape} for a dataset of {len(dataset)} rows; give "
                             "one score per row.")
    missing = int(np.isnan(values).sum())
    if missing:
        raise ValueError(f"{missing} of {len(values)} rows have no score (NaN, or a row the scores do not "
                         "describe); score every row, or select from the rows that have one.")
    return values, id_column


def _finish(dataset: Dataset, rows: np.ndarray, return_ids: bool, id_column: str | None):
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    if not return_ids:
        return dataset.select(rows)
    if id_column is None:
        return pd.Index(rows, name=ROW)
    return pd.Index(np.asarray(dataset[id_column])[rows], name=id_column)


def class_quotas(labels, total: int, balance: str = "proportional") -> dict:
    """How many rows to take from each class so that the quotas add up to exactly ``total``.

    ``proportional``: the class proportions are kept (largest-remainder rounding, so each quota is within one
    of ``total * share``). ``equal``: the same number from every class (the first classes in sorted order get
    the remainder); a class smaller than its quota is an error.
    """
    classes, counts = np.unique(np.asarray(labels), return_counts=True)
    if balance == "proportional":
        exact = total * counts / counts.sum()
    elif balance == "equal":
        exact = np.full(len(classes), total / len(classes))
    else:
        raise ValueError(f"balance={balance!r}; choose 'proportional' or 'equal'.")
    quotas = np.floor(exact).astype(np.int64)
    # largest remainders first; stable sort keeps class order among equal remainders
    for index in np.argsort(-(exact - quotas), kind="stable")[: total - quotas.sum()]:
        quotas[index] += 1
    too_small = [(c.item(), int(q), int(n)) for c, q, n in zip(classes, quotas, counts, strict=True) if q > n]
    if too_small:
        raise ValueError(f"classes too small for balance='equal' (class, quota, available): {too_small}; lower "
                         "the fraction or use balance='proportional'.")
    return {c.item() if hasattr(c, "item") else c: int(q) for c, q in zip(classes, quotas, strict=True)}


def select_stratified(dataset: Dataset, scores=None, fraction: float = 0.5, *, keep: str = "highest",
                      label_column: str = "label", balance: str = "proportional", seed: int = 0,
                      return_ids: bool = False, id_column: str | None = None, data_map: DataMap | None = None):
    """Select within each class: the same rule as the unstratified selectors, with per-class quotas.

    Parameters
    ----------
    dataset : Dataset
        The rows to choose from; ``label_column`` gives the classes.
    scores : array, pandas.Series, str or None
        As in :func:`select_by_score`; ``None`` only with ``keep="random"`` (the stratified random baseline).
    fraction : float
        Share of all rows to keep, in (0, 1]; the total is exact (rounded half up) and split by
        :func:`class_quotas`.
    keep : {"highest", "lowest", "both", "middle", "random"}
        Which examples of each class to keep (see :func:`keep_positions`).
    label_column : str
        Column holding the class of each row.
    balance : {"proportional", "equal"}
        Keep the class proportions of ``dataset``, or take the same number from every class.
    seed, return_ids, id_column, data_map
        As in :func:`select_by_score`.

    Returns
    -------
    Dataset with the kept rows in their original order, or a pandas Index of ids.

    Examples
    --------
    >>> from datasets import Dataset
    >>> train = Dataset.from_dict({"text": list("abcdefghij"), "label": [0, 1] * 5})
    >>> confidence = [0.1, 0.9, 0.2, 0.8, 0.5, 0.5, 0.7, 0.3, 0.95, 0.05]  # e.g. data_map.scores("confidence")
    >>> list(select_stratified(train, confidence, 0.4, keep="lowest")["text"])  # the 2 lowest of each class
    ['a', 'c', 'h', 'j']
    >>> list(select_stratified(train, None, 0.4, keep="random", seed=1)["label"])  # the stratified random baseline
    [0, 1, 0, 1]
    """
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep={keep!r}; choose one of {list(KEEP_CHOICES)}.")
    if label_column not in dataset.column_names:
        raise ValueError(f"label_column={label_column!r} is not a column of the dataset; columns: "
                         f"{dataset.column_names}.")
    if scores is None:
        if keep != "random":
            raise ValueError(f"keep={keep!r} ranks by score: pass scores (or use keep='random').")
        values = np.zeros(len(dataset))
    else:
        values, id_column = _aligned_scores(dataset, scores, id_column, data_map)
    labels = np.asarray(dataset[label_column])
    quotas = class_quotas(labels, count_for_fraction(fraction, len(dataset)), balance)
    kept = []
    for offset, (label, quota) in enumerate(quotas.items()):
        rows = np.flatnonzero(labels == label)
        if quota == 0:
            continue
        # a per-class fraction that reproduces the quota exactly under round-half-up
        local = keep_positions(values[rows], fraction=quota / len(rows), keep=keep, seed=seed + offset)
        kept.append(rows[local])
    return _finish(dataset, np.concatenate(kept) if kept else np.empty(0, np.int64), return_ids, id_column)
