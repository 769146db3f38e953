"""Select a subset of a ``datasets.Dataset`` by a per-example score: the one selection mechanism that
region, score and random selection share. Exact fractions (round half up) and seeded tie-breaking."""
from __future__ import annotations

import numpy as np
import pandas as pd
from datasets import Dataset

from greennlp.datamaps.regions import count_for_fraction, top_positions


def select_by_score(dataset: Dataset, scores: pd.Series | np.ndarray, fraction: float | None = None,
                    threshold: float | None = None, highest: bool = True, seed: int = 0,
                    return_ids: bool = False, id_column: str | None = None):
    """Keep the examples with the highest (or lowest) scores.

    Parameters
    ----------
    dataset:
        The dataset the scores describe.
    scores:
        A Series indexed by example id (the dataset's ``id_column`` values, or row positions when
        ``id_column`` is None), or an array aligned with the dataset rows.
    fraction, threshold:
        Exactly one: keep the top ``fraction`` (in (0, 1], rounded half up) or every example whose score
        is >= ``threshold`` (<= when ``highest=False``).
    highest:
        Rank high scores first (True) or low scores first (False).
    seed:
        Breaks ties reproducibly.
    return_ids:
        Return the selected ids (best first) instead of a Dataset.

    Returns
    -------
    datasets.Dataset with the selected rows in their original order (or a pandas Index of ids).
    """
    if not isinstance(scores, pd.Series):
        scores = pd.Series(np.asarray(scores, dtype=np.float64))
        if len(scores) != len(dataset):
            raise ValueError(f"Got {len(scores)} scores for a dataset of {len(dataset)} rows; give one per row.")
    positions = top_positions(scores.to_numpy(dtype=np.float64), fraction, threshold, highest, seed)
    ids = scores.index[positions]
    if return_ids:
        return ids
    return _subset(dataset, ids, id_column, len(scores))


def select_random(dataset: Dataset, fraction: float, seed: int = 0, return_ids: bool = False):
    """The random baseline: an exact ``fraction`` of the rows (round half up), reproducible with ``seed``."""
    count = count_for_fraction(fraction, len(dataset))
    rows = np.random.default_rng(seed).permutation(len(dataset))[:count]
    if return_ids:
        return pd.Index(rows, name="row")
    return dataset.select(np.sort(rows))


def _subset(dataset: Dataset, ids: pd.Index, id_column: str | None, num_scores: int) -> Dataset:
    if id_column is None:
        if num_scores != len(dataset):
            raise ValueError(
                f"The scores describe {num_scores} examples but the dataset has {len(dataset)} rows. Pass the "
                "dataset the scores (or data map) were computed on, or record the map with an id_column."
            )
        return dataset.select(np.sort(np.asarray(ids, dtype=np.int64)))
    if id_column not in dataset.column_names:
        raise ValueError(f"The scores are keyed by {id_column!r}, which is not a column of the dataset.")
    wanted = set(ids.tolist())
    # A batched filter reads only the id column: works for datasets larger than memory.
    return dataset.filter(lambda batch: [i in wanted for i in batch], input_columns=id_column, batched=True)
