"""Likely label errors from a data map: examples the model never came to agree with (low confidence in the gold
label, low area under the margin) rank first. No extra training: the map of the run you already did is enough."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .regions import rank_order

#: Metric -> what it says about an example whose label is wrong. Low values rank first for every one of them.
LABEL_ERROR_SCORES = {
    "aum": "area under the margin: mean of gold logit minus the largest other logit (Pleiss et al. 2020)",
    "confidence": "mean probability of the gold label over training (Swayamdipta et al. 2020)",
}


def rank_label_errors(table: pd.DataFrame, *, by: str = "aum", count: int | None = None,
                      seed: int = 0) -> pd.DataFrame:
    """The examples of a data-map table, most likely mislabelled first.

    Parameters
    ----------
    table : pandas.DataFrame
        A ``DataMap.table`` (indexed by example id, with ``confidence``, ``aum``, ``gold``, ...).
    by : {"aum", "confidence"}, default "aum"
        The score to rank by; the lowest value ranks first. ``aum`` separates a wrong label (a negative margin
        held all through training) from a merely hard example better than ``confidence`` when logits are large.
    count : int, optional
        Return only the first ``count`` suspects (e.g. the expected number of errors); all by default.
    seed : int, default 0
        Breaks ties reproducibly.

    Returns
    -------
    pandas.DataFrame
        Indexed by example id, in rank order, with ``rank`` (1 = most suspect), ``score`` (the value of ``by``),
        ``gold``, ``confidence``, ``aum``, ``correctness`` and ``region`` where the table has them. Examples that
        were never recorded have no score and are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"confidence": [0.9, 0.1, 0.5], "aum": [2.0, -1.5, 0.1], "gold": [1, 0, 1]},
    ...                      index=pd.Index(["a", "b", "c"], name="id"))
    >>> suspects = rank_label_errors(table, by="aum")
    >>> suspects.index.tolist(), suspects["score"].tolist()
    (['b', 'c', 'a'], [-1.5, 0.1, 2.0])
    """
    if by not in LABEL_ERROR_SCORES:
        raise ValueError(f"Unknown label-error score by={by!r}; choose one of {sorted(LABEL_ERROR_SCORES)}.")
    if by not in table.columns:
        raise ValueError(f"The table has no {by!r} column (columns: {list(table.columns)}); rank by another score.")
    if count is not None and (isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0):
        raise ValueError(f"count must be a non-negative integer (or None for every example); got {count!r}.")
    scores = table[by].to_numpy(dtype=np.float64)
    order = rank_order(scores, highest=False, seed=seed)
    order = order[~np.isnan(scores[order])]
    if count is not None:
        order = order[:count]
    columns = [c for c in ("gold", "confidence", "aum", "correctness", "region") if c in table.columns]
    ranked = table.iloc[order][columns].copy()
    ranked.insert(0, "score", scores[order])
    ranked.insert(0, "rank", np.arange(1, len(order) + 1))
    return ranked
