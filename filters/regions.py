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

    Parameters
    ----------
    dataset : Dataset
        The dataset to select from: the one the map was recorded on, or any dataset holding its examples.
    data_map : DataMap
        The map whose ``region`` column defines the region and whose metrics rank its members.
    region : str
        ``"ambiguous"``, ``"easy-to-learn"`` or ``"hard-to-learn"`` (``"easy"``, ``"hard"`` and underscores too).
    fraction : float, optional
        Share of the whole map to keep, in (0, 1], rounded half up.
    threshold : float, optional
        Keep the members past it: variability >= it (ambiguous), confidence >= it (easy-to-learn), confidence
        <= it (hard-to-learn). At most one of ``fraction`` and ``threshold``.
    seed : int, default 0
        Breaks ties in the ranking reproducibly (a seeded permutation) and seeds the random draws of ``mix``.
    return_ids : bool, default False
        Return the selected example ids instead of a Dataset: a pandas Index named like the map's index, best
        first, any ``mix`` draws last; ``dataset`` is then not read.
    id_column : str, optional
        The dataset column holding the map's ids (default: the map's ``id_column``).
    mix : dict of str to float, optional
        ``{other_region: share}``: that share of the selected count is drawn at random from the other region;
        needs ``fraction``, and the shares add up to at most 1.

    Examples
    --------
    >>> ambiguous = select_by_region(train, DataMap.load("maps/sst2"), "ambiguous", fraction=0.33)  # doctest: +SKIP

    With a map built from logits (6 examples, 3 epochs, 2 classes) and keyed by the dataset's ``id`` column:

    >>> from datasets import Dataset
    >>> train = Dataset.from_dict({"id": list("abcdef"), "text": list("uvwxyz"), "label": [0, 1, 0, 1, 0, 1]})
    >>> logits = np.random.default_rng(0).normal(size=(6, 3, 2))
    >>> data_map = DataMap.from_logits(logits, train["label"], ids=train["id"])
    >>> sorted(data_map.table.index[data_map.table["region"] == "ambiguous"])
    ['a', 'e']
    >>> list(select_by_region(train, data_map, "ambiguous")["id"])                 # the whole region
    ['a', 'e']
    >>> list(select_by_region(train, data_map, "ambiguous", fraction=1 / 6)["id"])  # a sixth of the map
    ['a']
    """
    ids = data_map._select(region, fraction=fraction, threshold=threshold, seed=seed, mix=mix)
    if return_ids:
        return ids
    rows = data_map.dataset_rows(dataset, id_column=id_column)
    return dataset.select(np.sort(rows.loc[ids].to_numpy()))
