"""Select the examples of a data-map region (ambiguous, easy-to-learn, hard-to-learn) from a dataset."""
from __future__ import annotations

from datasets import Dataset

from greennlp.datamaps import REGIONS, DataMap
from greennlp.datamaps.regions import canonical_region

from .selection import select_by_score


def select_by_region(dataset: Dataset, data_map: DataMap, region: str, fraction: float | None = None,
                     threshold: float | None = None, seed: int = 0, return_ids: bool = False):
    """Keep the examples of ``region``, by the cartography sort orders.

    ``ambiguous``: highest variability; ``easy-to-learn``: highest confidence; ``hard-to-learn``: lowest
    confidence. Give ``fraction`` (exact, rounded half up) or ``threshold``. Ids are matched through the
    map's ``id_column`` when it was recorded with one, otherwise by row position.

    Examples
    --------
    >>> ambiguous = select_by_region(train, DataMap.load("maps/sst2"), "ambiguous", fraction=0.33)  # doctest: +SKIP
    """
    column, highest = REGIONS[canonical_region(region)]
    return select_by_score(dataset, data_map.scores(column), fraction, threshold, highest, seed, return_ids,
                           id_column=data_map.id_column)
