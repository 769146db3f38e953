"""Select the examples of a data-map region (ambiguous, easy-to-learn, hard-to-learn) from a dataset."""
from __future__ import annotations

import numpy as np
from datasets import Dataset

from greennlp.datamaps import DataMap


def select_by_region(dataset: Dataset, data_map: DataMap, region: str, *, fraction: float | None = None,
                     threshold: float | None = None, seed: int = 0, return_ids: bool = False,
                     id_column: str | None = None, mix: dict[str, float] | None = None):
    """Keep the examples of ``region`` as the map defines it (its ``region`` column; see ``datamaps.regions``).

    With neither ``fraction`` nor ``threshold``, the whole region. ``fraction`` is a share of the whole map (the
    size of a random subset to compare with), taken from the region's members in the paper's sort order
    (ambiguous: highest variability; easy-to-learn: highest confidence; hard-to-learn: lowest confidence); a
    fraction larger than the region's share adds the next examples in that order from outside the region, with a
    logged warning. ``threshold`` keeps the members past it. ``mix`` draws shares of the selection at random from
    other regions (``mix={"easy-to-learn": 0.25}``: the paper's ambiguous-plus-easy remedy).

    Rows are found through :meth:`DataMap.dataset_rows`: by the map's ids (in the column ``id_column``, default the
    map's), or, for a map keyed by row position, by token content or checked position. An example of the map
    that is not in ``dataset`` raises ``ValueError``; the count is always exact. A map in which no example was
    observed twice (one epoch, one snapshot) has no regions and raises ``ValueError`` saying how to record one.

    Examples
    --------
    >>> ambiguous = select_by_region(train, DataMap.load("maps/sst2"), "ambiguous", fraction=0.33)  # doctest: +SKIP
    """
    ids = data_map._select(region, fraction=fraction, threshold=threshold, seed=seed, mix=mix)
    if return_ids:
        return ids
    rows = data_map.dataset_rows(dataset, id_column=id_column)
    return dataset.select(np.sort(rows.loc[ids].to_numpy()))
