"""Map regions (Swayamdipta et al. 2020), defined once here, and exact, reproducible top-fraction selection.

A map's examples fall in exactly one region each (``DataMap.table["region"]``):

- ``ambiguous``: the ``region_fraction`` (default 1/3, rounded half up) most variable examples;
- ``easy-to-learn``: of the others, those with confidence >= 0.5 (the model gives the gold label the majority of
  the probability on average);
- ``hard-to-learn``: the others, confidence < 0.5.

Selecting a region uses the same definition. Its members are ranked by the paper's sort order (:data:`REGIONS`:
ambiguous by variability, highest first; easy-to-learn by confidence, highest first; hard-to-learn by confidence,
lowest first). With no ``fraction`` and no ``threshold`` the whole region is selected; ``threshold`` keeps the
members past it; ``fraction`` is a share of the whole map (comparable with a random subset of that size) taken
from the region's best-ranked members. Every selected example is in the region as long as ``fraction`` is at
most the region's share of the map; a larger fraction takes the whole region and then the examples outside it
that come first in the same sort order (logged as a warning), so the count is always exact.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: region -> (metric column, True when the highest values rank first): the paper's sort order within a region.
#: Membership itself is the ``region`` column of a map (see this module's docstring for its definition).
REGIONS: dict[str, tuple[str, bool]] = {
    "ambiguous": ("variability", True),
    "easy-to-learn": ("confidence", True),
    "hard-to-learn": ("confidence", False),
}
#: Confidence at or above which a non-ambiguous example is easy-to-learn.
EASY_CONFIDENCE = 0.5
_ALIASES = {"easy": "easy-to-learn", "hard": "hard-to-learn", "easy_to_learn": "easy-to-learn",
            "hard_to_learn": "hard-to-learn"}


def canonical_region(region: str) -> str:
    """The region's canonical name; accepts ``easy``/``hard`` and underscores.

    >>> canonical_region("hard"), canonical_region("easy_to_learn")
    ('hard-to-learn', 'easy-to-learn')
    """
    name = _ALIASES.get(region, region)
    if name not in REGIONS:
        raise ValueError(f"Unknown region {region!r}; choose one of {sorted(REGIONS)} (or 'easy', 'hard').")
    return name


def count_for_fraction(fraction: float, total: int) -> int:
    """Number of items in ``fraction`` of ``total``, rounded half up (0.33 of 10 is 3, 0.25 of 10 is 3).

    >>> count_for_fraction(0.33, 10), count_for_fraction(0.25, 10), count_for_fraction(1 / 3, 100)
    (3, 3, 33)
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}.")
    return min(total, int(np.floor(fraction * total + 0.5)))


def rank_order(scores: np.ndarray, highest: bool, seed: int = 0) -> np.ndarray:
    """Positions sorted best-first; ties broken by a seeded permutation (reproducible, not biased to low ids)."""
    scores = np.asarray(scores, dtype=np.float64)
    tie_break = np.random.default_rng(seed).permutation(len(scores))
    key = -scores if highest else scores
    key = np.where(np.isnan(key), np.inf, key)  # examples without a score come last
    return np.lexsort((tie_break, key))


def top_positions(scores, fraction: float | None = None, threshold: float | None = None,
                  highest: bool = True, seed: int = 0) -> np.ndarray:
    """Positions of the selected items, best first: the top ``fraction`` or every item past ``threshold``.

    >>> top_positions([0.1, 0.9, 0.5, 0.7], fraction=0.5)
    array([1, 3])
    >>> top_positions([0.1, 0.9, 0.5, 0.7], threshold=0.5, highest=False)
    array([0, 2])
    """
    if (fraction is None) == (threshold is None):
        raise ValueError("Give exactly one of `fraction` (e.g. 0.33) or `threshold`.")
    scores = np.asarray(scores, dtype=np.float64)
    order = rank_order(scores, highest, seed)
    if fraction is not None:
        return order[: count_for_fraction(fraction, len(scores))]
    passed = scores[order] >= threshold if highest else scores[order] <= threshold
    return order[passed]


def assign_regions(table: pd.DataFrame, fraction: float = 1 / 3, seed: int = 0) -> pd.Series:
    """The ``region`` column (definition in this module's docstring); examples never recorded get none (NaN)."""
    confidence = table["confidence"].to_numpy(dtype=np.float64)
    variability = table["variability"].to_numpy(dtype=np.float64)
    recorded = np.flatnonzero(~np.isnan(confidence))
    region = np.full(len(table), None, dtype=object)
    region[recorded] = np.where(confidence[recorded] >= EASY_CONFIDENCE, "easy-to-learn", "hard-to-learn")
    region[recorded[top_positions(variability[recorded], fraction=fraction, seed=seed)]] = "ambiguous"
    return pd.Series(pd.Categorical(region, categories=list(REGIONS)), index=table.index, name="region")


def region_positions(table: pd.DataFrame, region: str, fraction: float | None = None,
                     threshold: float | None = None, seed: int = 0) -> np.ndarray:
    """Positions (best first) of the examples selected for ``region``; the rule is in this module's docstring."""
    if fraction is not None and threshold is not None:
        raise ValueError("Give at most one of `fraction` (e.g. 0.33) or `threshold`; neither selects the whole "
                         "region.")
    name = canonical_region(region)
    column, highest = REGIONS[name]
    scores = table[column].to_numpy(dtype=np.float64)
    inside = (table["region"] == name).to_numpy()
    members = np.flatnonzero(inside)
    ranked = members[rank_order(scores[members], highest, seed)]
    if fraction is None and threshold is None:
        return ranked
    if threshold is not None:
        passed = scores[ranked] >= threshold if highest else scores[ranked] <= threshold
        return ranked[passed]
    count = count_for_fraction(fraction, len(table))
    if count <= len(ranked):
        return ranked[:count]
    outside = np.flatnonzero(~inside)
    extra = outside[rank_order(scores[outside], highest, seed)][: count - len(ranked)]
    logger.warning(
        "%s holds %d of %d examples (%.1f%%); fraction=%s asks for %d, so the %d examples outside it with the %s "
        "%s are added. Pass a fraction of at most %.4f to stay inside the region.",
        name, len(ranked), len(table), 100 * len(ranked) / max(len(table), 1), fraction, count, len(extra),
        "highest" if highest else "lowest", column, len(ranked) / max(len(table), 1),
    )
    return np.concatenate([ranked, extra])
