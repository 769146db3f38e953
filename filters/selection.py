"""Select a subset of a ``datasets.Dataset`` by a per-example score: the one selection mechanism that
region, score and random selection share. Exact fractions (round half up) and seeded tie-breaking.

Scores given as a pandas Series are keyed by their index: ids in the dataset column named by the index (or
``id_column=``), or row positions when the index is named ``row`` or is a plain ``RangeIndex``. With
``data_map=``, rows are found as the map finds them (:meth:`DataMap.dataset_rows`: by id, or by content for a
map keyed by row position). An example that cannot be found raises ``ValueError``; selections never shrink.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from datasets import Dataset

from greennlp.datamaps import DataMap
from greennlp.datamaps.alignment import ROW, dataset_rows
from greennlp.datamaps.regions import count_for_fraction, top_positions

SCORE_KEEPS = ("highest", "lowest", "both", "middle")


def select_by_score(dataset: Dataset, scores: pd.Series | np.ndarray | str, *, fraction: float | None = None,
                    threshold: float | tuple[float, float] | None = None, keep: str = "highest", seed: int = 0,
                    return_ids: bool = False, id_column: str | None = None, data_map: DataMap | None = None):
    """Keep the examples with the highest or lowest scores, both ends of the ranking or its middle.

    Parameters
    ----------
    dataset:
        The dataset the scores describe.
    scores:
        A Series indexed by example id (see the module docstring), e.g. ``data_map.scores("aum")``, an array
        aligned with the dataset rows, or a column name (of ``data_map`` when given, else of the dataset).
    fraction, threshold:
        Exactly one: keep a ``fraction`` of the rows (in (0, 1], rounded half up), or the examples past
        ``threshold``: >= it (``"highest"``), <= it (``"lowest"``); with ``"both"`` / ``"middle"`` a pair
        ``(low, high)``: the scores <= low or >= high, or those within [low, high].
    keep:
        ``"highest"`` (default) or ``"lowest"`` scores first; ``"both"`` ends (half of ``fraction`` from each,
        the extra one of an odd count from the top) or the ``"middle"`` of the ranking (equal tails dropped), as
        in :func:`select_stratified`, which applies the same rule within each class.
    seed:
        Breaks ties reproducibly.
    return_ids:
        Return the selected ids instead of a Dataset (best first for ``"highest"`` / ``"lowest"``; in row order
        for ``"both"`` / ``"middle"``).
    id_column:
        The dataset column holding the ids that a Series is keyed by (default: the Series index name).
    data_map:
        The map the scores come from: its rows are matched to the dataset by id or content.

    Returns
    -------
    datasets.Dataset with the selected rows in their original order (or a pandas Index of ids).

    Examples
    --------
    >>> from datasets import Dataset
    >>> train = Dataset.from_dict({"text": list("abcdefghij"), "label": [0, 1] * 5})
    >>> confidence = [0.1, 0.9, 0.2, 0.8, 0.5, 0.5, 0.7, 0.3, 0.95, 0.05]  # e.g. data_map.scores("confidence")
    >>> list(select_by_score(train, confidence, fraction=0.3, keep="lowest")["text"])
    ['a', 'c', 'j']
    >>> list(select_by_score(train, confidence, fraction=0.4, keep="both")["text"])  # 2 lowest and 2 highest
    ['a', 'b', 'i', 'j']
    """
    if keep not in SCORE_KEEPS:
        raise ValueError(f"select_by_score(keep={keep!r}); choose one of {list(SCORE_KEEPS)} (select_random is the "
                         "random baseline).")
    if keep in ("both", "middle") or isinstance(scores, str):
        from .stratified import _aligned_scores, _finish, keep_positions

        values, id_column = _aligned_scores(dataset, scores, id_column, data_map)
        if keep in ("both", "middle"):
            return _finish(dataset, keep_positions(values, fraction, threshold, keep, seed), return_ids, id_column)
        positions = top_positions(values, fraction, threshold, keep == "highest", seed)
        if return_ids:  # best first, as below
            return pd.Index(positions if id_column is None else np.asarray(dataset[id_column])[positions],
                            name=id_column or ROW)
        return dataset.select(np.sort(positions))
    if not isinstance(scores, pd.Series):
        values = np.asarray(scores, dtype=np.float64)
        if values.shape != (len(dataset),):
            raise ValueError(f"Got scores of shape {values.shape} for a dataset of {len(dataset)} rows; give one "
                             "per row.")
        scores = pd.Series(values, index=pd.RangeIndex(len(values), name=ROW))
    positions = top_positions(scores.to_numpy(dtype=np.float64), fraction, threshold, keep == "highest", seed)
    if return_ids:
        return scores.index[positions]
    rows = rows_of(dataset, scores.index, id_column=id_column, data_map=data_map)
    return dataset.select(np.sort(rows[positions]))


def select_random(dataset: Dataset, fraction: float, *, seed: int = 0, return_ids: bool = False):
    """The random baseline: an exact ``fraction`` of the rows (round half up), reproducible with ``seed``.

    Parameters
    ----------
    dataset : Dataset
        The dataset to draw the rows from.
    fraction : float
        Share of the rows to keep, in (0, 1], rounded half up.
    seed : int, default 0
        Seeds the permutation the rows are drawn from (``numpy.random.default_rng(seed)``).
    return_ids : bool, default False
        Return the drawn row positions (a pandas Index named ``row``, in the order drawn) instead of a Dataset
        holding those rows in their original order.
    """
    count = count_for_fraction(fraction, len(dataset))
    rows = np.random.default_rng(seed).permutation(len(dataset))[:count]
    if return_ids:
        return pd.Index(rows, name=ROW)
    return dataset.select(np.sort(rows))


def rows_of(dataset: Dataset, keys: pd.Index, *, id_column: str | None = None,
            data_map: DataMap | None = None) -> np.ndarray:
    """The dataset row of each key (a Series' index), through ``data_map`` when given; raises when one is missing."""
    if data_map is None:
        return dataset_rows(keys, dataset, id_column=id_column)
    rows = data_map.dataset_rows(dataset, id_column=id_column).reindex(keys)
    if rows.isna().any():
        raise ValueError(f"{int(rows.isna().sum())} of the scores' ids are not examples of the data map (e.g. "
                         f"{list(keys[rows.isna().to_numpy()][:3])}); pass scores from the same map.")
    return rows.to_numpy(dtype=np.int64)
