"""Map regions (Swayamdipta et al. 2020) and exact, reproducible top-fraction selection over a score."""
from __future__ import annotations

import numpy as np
import pandas as pd

#: region -> (metric column, True when the region holds the highest values): the paper's sort orders.
REGIONS: dict[str, tuple[str, bool]] = {
    "ambiguous": ("variability", True),
    "easy-to-learn": ("confidence", True),
    "hard-to-learn": ("confidence", False),
}
_ALIASES = {"easy": "easy-to-learn", "hard": "hard-to-learn", "easy_to_learn": "easy-to-learn",
            "hard_to_learn": "hard-to-learn"}


def canonical_region(region: str) -> str:
    """The region's canonical name; accepts ``easy``/``hard`` and underscores."""
    name = _ALIASES.get(region, region)
    if name not in REGIONS:
        raise ValueError(f"Unknown region {region!r}; choose one of {sorted(REGIONS)} (or 'easy', 'hard').")
    return name


def count_for_fraction(fraction: float, total: int) -> int:
    """Number of items in ``fraction`` of ``total``, rounded half up (0.33 of 10 is 3, 0.25 of 10 is 3)."""
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
    """Positions of the selected items, best first: the top ``fraction`` or every item past ``threshold``."""
    if (fraction is None) == (threshold is None):
        raise ValueError("Give exactly one of `fraction` (e.g. 0.33) or `threshold`.")
    scores = np.asarray(scores, dtype=np.float64)
    order = rank_order(scores, highest, seed)
    if fraction is not None:
        return order[: count_for_fraction(fraction, len(scores))]
    passed = scores[order] >= threshold if highest else scores[order] <= threshold
    return order[passed]


def assign_regions(table: pd.DataFrame, fraction: float = 1 / 3, seed: int = 0) -> pd.Series:
    """One region per example: the ``fraction`` most variable are ``ambiguous``; of the rest, those with
    confidence >= 0.5 (the model gives the gold label the majority on average) are ``easy-to-learn`` and the
    others ``hard-to-learn``."""
    region = np.where(table["confidence"].to_numpy() >= 0.5, "easy-to-learn", "hard-to-learn").astype(object)
    region[top_positions(table["variability"].to_numpy(), fraction=fraction, seed=seed)] = "ambiguous"
    return pd.Series(region, index=table.index, name="region", dtype="category")
