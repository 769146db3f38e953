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


def select_by_score(dataset: Dataset, scores: pd.Series | np.ndarray, *, fraction: float | None = None,
                    threshold: float | None = None, highest: bool = True, seed: int = 0,
                    return_ids: bool = False, id_column: str | None = None, data_map: DataMap | None = None):
    """Keep the examples with the highest (or lowest) scores.

    Parameters
    ----------
    dataset:
        The dataset the scores describe.
    scores:
        A Series indexed by example id (see the module docstring), e.g. ``data_map.scores("aum")``, or an array
        aligned with the dataset rows.
    fraction, threshold:
        Exactly one: keep the top ``fraction`` (in (0, 1], rounded half up) or every example whose score
        is >= ``threshold`` (<= when ``highest=False``).
    highest:
        Rank high scores first (True) or low scores first (False).
    seed:
        Breaks ties reproducibly.
    return_ids:
        Return the selected ids (best first) instead of a Dataset.
    id_column:
        The dataset column holding the ids that a Series is keyed by (default: the Series index name).
    data_map:
        The map the scores come from: its rows are matched to the dataset by id or content.

    Returns
    -------
    datasets.Dataset with the selected rows in their original order (or a pandas Index of ids).

    Examples
    --------
    >>> low_margin = select_by_score(train, data_map.scores("aum"), fraction=0.3, highest=False,
    ...                              data_map=data_map)  # doctest: +SKIP
    """
    if not isinstance(scores, pd.Series):
        values = np.asarray(scores, dtype=np.float64)
        if values.shape != (len(dataset),):
            raise ValueError(f"Got scores of shape {values.shape} for a dataset of {len(dataset)} rows; give one "
                             "per row.")
        scores = pd.Series(values, index=pd.RangeIndex(len(values), name=ROW))
    positions = top_positions(scores.to_numpy(dtype=np.float64), fraction, threshold, highest, seed)
    if return_ids:
        return scores.index[positions]
    rows = rows_of(dataset, scores.index, id_column=id_column, data_map=data_map)
    return dataset.select(np.sort(rows[positions]))


def select_random(dataset: Dataset, fraction: float, *, seed: int = 0, return_ids: bool = False):
    """The random baseline: an exact ``fraction`` of the rows (round half up), reproducible with ``seed``."""
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
