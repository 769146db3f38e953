"""Map regions (Swayamdipta et al. 2020), defined once here, and exact, reproducible top-fraction selection.

Every example observed at least twice falls in exactly one region (``DataMap.table["region"]``):

- ``ambiguous``: the ``region_fraction`` (default 1/3, rounded half up) most variable examples;
- ``easy-to-learn``: of the others, those with confidence >= 0.5 (the model gives the gold label the majority of
  the probability on average);
- ``hard-to-learn``: the others, confidence < 0.5.

Regions need variability, and variability needs at least two observations of an example (:data:`MIN_OBSERVATIONS`;
one observation has variability 0 whatever the model did). An example observed once (a one-epoch fine-tune, a
``max_steps`` that stops inside the second epoch, an example dropped by ``dataloader_drop_last`` in all but one
epoch) has no region, like an example never recorded, and is left out of the ambiguous fraction's count. A map in
which no example was observed twice has no regions at all: it says so when built, and selecting a region (or
ranking by ``variability``) raises ``ValueError``. Train for two epochs or more, or record several snapshots per
epoch (``DataMapCallback(mode="eval", snapshots_per_epoch=3)``), which observes every example three times in one
epoch; confidence alone is still usable through ``data_map.scores("confidence")``.

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
#: Observations of an example needed for its variability, and so its region, to be defined.
MIN_OBSERVATIONS = 2
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


def has_variability(table: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the examples observed at least :data:`MIN_OBSERVATIONS` times (variability defined)."""
    recorded = ~np.isnan(table["confidence"].to_numpy(dtype=np.float64))
    if "observations" not in table.columns:  # a table built by hand: trust its variability
        return recorded
    return recorded & (table["observations"].to_numpy() >= MIN_OBSERVATIONS)


def no_regions_message(table: pd.DataFrame) -> str | None:
    """Why ``table`` has no regions, with the fix; ``None`` when some examples have one."""
    recorded = ~np.isnan(table["confidence"].to_numpy(dtype=np.float64))
    if has_variability(table).any() or not recorded.any():
        return None
    return (
        f"every one of its {int(recorded.sum())} recorded examples was observed once (one epoch), so variability is "
        f"0 for all of them and says nothing: regions (ambiguous, easy-to-learn, hard-to-learn) and variability "
        f"need at least {MIN_OBSERVATIONS} observations per example. Train for 2 epochs or more, or record several "
        "snapshots in one epoch with DataMapCallback(mode='eval', snapshots_per_epoch=3); to rank by confidence "
        "alone use data_map.scores('confidence')"
    )


def assign_regions(table: pd.DataFrame, fraction: float = 1 / 3, seed: int = 0) -> pd.Series:
    """The ``region`` column (definition in this module's docstring); examples never recorded, or observed fewer
    than :data:`MIN_OBSERVATIONS` times, get none (NaN)."""
    confidence = table["confidence"].to_numpy(dtype=np.float64)
    variability = table["variability"].to_numpy(dtype=np.float64)
    defined = np.flatnonzero(has_variability(table))
    region = np.full(len(table), None, dtype=object)
    region[defined] = np.where(confidence[defined] >= EASY_CONFIDENCE, "easy-to-learn", "hard-to-learn")
    region[defined[top_positions(variability[defined], fraction=fraction, seed=seed)]] = "ambiguous"
    return pd.Series(pd.Categorical(region, categories=list(REGIONS)), index=table.index, name="region")


def region_positions(table: pd.DataFrame, region: str, fraction: float | None = None,
                     threshold: float | None = None, seed: int = 0) -> np.ndarray:
    """Positions (best first) of the examples selected for ``region``; the rule is in this module's docstring."""
    if fraction is not None and threshold is not None:
        raise ValueError("Give at most one of `fraction` (e.g. 0.33) or `threshold`; neither selects the whole "
                         "region.")
    name = canonical_region(region)
    reason = no_regions_message(table)
    if reason is not None:
        raise ValueError(f"Cannot select {name!r}: this map has no regions: {reason}.")
    column, highest = REGIONS[name]
    scores = np.where(has_variability(table), table[column].to_numpy(dtype=np.float64), np.nan)
    inside = (table["region"] == name).to_numpy()
    members = np.flatnonzero(inside)
    ranked = members[rank_order(scores[members], highest, seed)]
    if fraction is None and threshold is None:
        return ranked
    if threshold is not None:
        passed = scores[ranked] >= threshold if highest else scores[ranked] <= threshold
        return ranked[passed]
    return _fill(table, name, ranked, count_for_fraction(fraction, len(table)), fraction, seed)


def mixed_positions(table: pd.DataFrame, region: str, fraction: float, mix: dict[str, float],
                    seed: int = 0) -> np.ndarray:
    """Positions of a ``fraction`` of the map: for each ``other_region: share`` in ``mix``, that share of the count
    drawn at random (seeded) from the other region; the rest from ``region`` in its sort order.

    The paper's remedy for a subset too hard to train on (Swayamdipta et al. 2020, section 5): ambiguous examples
    with some easy-to-learn ones mixed in. The mixed-in examples are drawn at random rather than taken from the
    top of their region, so they cover it rather than its most trivial corner.
    """
    if fraction is None:
        raise ValueError("A mixed selection needs `fraction` (e.g. 0.33): the shares are shares of that count.")
    name = canonical_region(region)
    ranked = region_positions(table, name, seed=seed)  # the whole region in its sort order; raises without regions
    count = count_for_fraction(fraction, len(table))
    shares = {canonical_region(other): float(share) for other, share in mix.items()}
    if name in shares or any(not 0 <= share <= 1 for share in shares.values()) or sum(shares.values()) > 1:
        raise ValueError(f"mix={mix!r}: give other regions than {name!r}, with shares in [0, 1] adding up to at "
                         "most 1 (e.g. mix={'easy-to-learn': 0.25}).")
    rng = np.random.default_rng(seed)
    chosen = []
    for other, share in shares.items():
        members = np.flatnonzero((table["region"] == other).to_numpy())
        wanted = int(np.floor(share * count + 0.5))
        if wanted > len(members):
            raise ValueError(f"mix asks for {wanted} {other} examples but the map has {len(members)}; lower its "
                             "share or the fraction.")
        chosen.append(rng.choice(members, size=wanted, replace=False))
    taken_positions = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)
    return np.concatenate([_fill(table, name, ranked, count - len(taken_positions), fraction, seed, taken_positions),
                           taken_positions])


def _fill(table: pd.DataFrame, name: str, ranked: np.ndarray, count: int, fraction: float, seed: int,
          exclude: np.ndarray | None = None) -> np.ndarray:
    """The first ``count`` of a region's ranked members; past the region's size, the examples outside it (and
    not in ``exclude``) that come first in the same sort order (logged as a warning)."""
    if count <= len(ranked):
        return ranked[:count]
    column, highest = REGIONS[name]
    scores = np.where(has_variability(table), table[column].to_numpy(dtype=np.float64), np.nan)
    inside = (table["region"] == name).to_numpy().copy()
    if exclude is not None:
        inside[exclude] = True  # already chosen: never added twice
    outside = np.flatnonzero(~inside)
    extra = outside[rank_order(scores[outside], highest, seed)][: count - len(ranked)]
    logger.warning(
        "%s holds %d of %d examples (%.1f%%); fraction=%s asks for %d, so the %d examples outside it with the %s "
        "%s are added. Pass a fraction of at most %.4f to stay inside the region.",
        name, len(ranked), len(table), 100 * len(ranked) / max(len(table), 1), fraction, count, len(extra),
        "highest" if highest else "lowest", column, len(ranked) / max(len(table), 1),
    )
    return np.concatenate([ranked, extra])
