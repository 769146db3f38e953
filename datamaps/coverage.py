"""Coverage-centric selection over a difficulty score (CCS; Zheng et al. 2023, "Coverage-centric Coreset Selection
for High Pruning Rates", Algorithm 1), and a region selection with a share drawn from another region.

Why by hand: CCS is a dozen lines of numpy and no maintained library ships it (the authors' code is a research
repository tied to their CIFAR training loop).

CCS: drop the ``prune_hardest`` share of the examples with the lowest score (likely label errors and outliers),
split the score range of the rest into ``strata`` bins of equal width, then fill the budget from the smallest bin
up, giving each bin an equal share of what is left (a bin smaller than its share gives all it has, and the rest
goes to the larger bins); examples are drawn at random within a bin. The subset covers the whole difficulty range
instead of one end of it, which is what beats both random and hardest-first selection at high pruning rates.
"""
from __future__ import annotations

import numpy as np

from .regions import count_for_fraction


def coverage_positions(scores, fraction: float, *, prune_hardest: float = 0.05, strata: int = 50,
                       seed: int = 0) -> np.ndarray:
    """Positions chosen by CCS from ``scores`` (higher = easier, e.g. AUM or confidence); NaN scores are never
    chosen. The count is exact: ``fraction`` of all scores, rounded half up.

    >>> scores = np.linspace(-1, 1, 100)
    >>> chosen = coverage_positions(scores, 0.2, prune_hardest=0.1, strata=4, seed=0)
    >>> len(chosen), bool((scores[chosen] >= scores[10]).all())  # 20 examples, none of the hardest 10
    (20, True)
    >>> np.histogram(scores[chosen], bins=4, range=(scores[10], 1))[0]  # 5 from each stratum
    array([5, 5, 5, 5])
    """
    scores = np.asarray(scores, dtype=np.float64)
    if not 0 <= prune_hardest < 1:
        raise ValueError(f"prune_hardest must be in [0, 1); got {prune_hardest!r}.")
    if int(strata) < 1:
        raise ValueError(f"strata must be a positive number of bins; got {strata!r}.")
    count = count_for_fraction(fraction, len(scores))
    scored = np.flatnonzero(~np.isnan(scores))
    rng = np.random.default_rng(seed)
    # hardest first, ties broken by a seeded permutation (reproducible, not biased to low positions)
    order = scored[np.lexsort((rng.permutation(len(scored)), scores[scored]))]
    kept = order[count_for_fraction(prune_hardest, len(order)) if prune_hardest else 0:]
    if count > len(kept):
        raise ValueError(
            f"fraction={fraction} asks for {count} examples but only {len(kept)} remain after dropping the hardest "
            f"{prune_hardest:.0%} of the {len(scored)} scored ones; lower prune_hardest or the fraction."
        )
    values = scores[kept]
    low, high = values.min(initial=0.0), values.max(initial=0.0)
    edges = np.linspace(low, high, int(strata) + 1)
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, int(strata) - 1)
    members = [kept[bins == b] for b in range(int(strata))]
    members = [m for m in members if len(m)]
    chosen, budget = [], count
    for index, stratum in enumerate(sorted(members, key=len)):  # smallest bins first
        share = min(len(stratum), budget // (len(members) - index))
        chosen.append(rng.choice(stratum, size=share, replace=False))
        budget -= share
    return np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)
