"""Is A really better than B? The paired difference of two methods scored on the same evaluation examples, with
a bootstrap confidence interval over the examples (and over seeds when there are several), a p-value, and the
number of seeds in which A is ahead (Berg-Kirkpatrick et al. 2012; Dror et al. 2018)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class PairedDifference:
    """The result of :func:`paired_difference`: ``mean`` of ``a - b`` with its ``confidence`` interval
    ``[low, high]``, the two-sided ``p_value`` of "no difference", the number of ``seeds`` and ``seeds_ahead``
    (seeds whose mean score is higher for ``a``), and ``examples`` per seed."""

    mean: float
    low: float
    high: float
    p_value: float
    confidence: float
    seeds: int
    seeds_ahead: int
    examples: int

    @property
    def verdict(self) -> str:
        """``"ahead"`` or ``"behind"`` when the interval excludes zero (``a`` better or worse), else ``"level"``."""
        if self.low > 0:
            return "ahead"
        if self.high < 0:
            return "behind"
        return "level"

    def __str__(self) -> str:
        return (f"{self.mean:+.4g} [{self.low:+.4g}, {self.high:+.4g}] ({self.confidence:.0%} CI, p={self.p_value:.3g}, "
                f"{self.verdict}; ahead in {self.seeds_ahead}/{self.seeds} seeds)")


def _as_matrix(values: Any, name: str, seeds: Sequence | None) -> tuple[np.ndarray, list | None]:
    if isinstance(values, Mapping):
        keys = list(values)
        rows = [np.asarray(values[key], dtype=float).ravel() for key in keys]
        if len({len(row) for row in rows}) > 1:
            raise ValueError(f"paired_difference(): the seeds of {name} scored different numbers of examples "
                             f"({ {key: len(row) for key, row in zip(keys, rows, strict=True)} }); every seed must "
                             "score the same evaluation examples, in the same order.")
        return (np.vstack(rows) if rows else np.empty((0, 0))), keys
    matrix = np.asarray(values, dtype=float)
    if matrix.ndim == 1:
        if seeds is not None and len(seeds) != 1:
            raise ValueError(f"paired_difference(): {name} is one row of per-example scores but seeds= names "
                             f"{len(seeds)} seeds; pass one row per seed (shape (seeds, examples)).")
        return matrix[None, :], None
    if matrix.ndim != 2:
        raise ValueError(f"paired_difference(): {name} must be per-example scores (1-D) or one row per seed (2-D); "
                         f"got shape {matrix.shape}.")
    if seeds is None and len(matrix) > 1:
        raise ValueError(f"paired_difference(): {name} has {len(matrix)} rows; pass seeds= (one label per row) to "
                         "say they are seeds, or a 1-D array for one run.")
    return matrix, None


def paired_difference(a: Any, b: Any, *, seeds: Sequence | None = None, confidence: float = 0.95,
                      n_resamples: int = 10_000, seed: int = 0) -> PairedDifference:
    """Mean difference ``a - b`` of two methods scored on the same evaluation examples, with a paired bootstrap.

    Parameters
    ----------
    a, b:
        Per-example scores of two methods on the same evaluation examples in the same order: correctness (0/1)
        or any score. Either 1-D (one run each), 2-D with one row per seed (pass ``seeds``), or a mapping
        ``{seed: per-example scores}`` (rows are paired by seed; seeds present in only one are an error).
        A seed's row of ``a`` is paired with the same seed's row of ``b``. With one score per seed (shape
        ``(seeds, 1)``, e.g. accuracies of runs that kept no per-example results) the interval covers only the
        variation between seeds.
    seeds:
        Labels of the rows of 2-D ``a`` and ``b`` (e.g. ``[0, 1, 2]``).
    confidence:
        Level of the interval, in (0, 1).
    n_resamples:
        Bootstrap replicates (at least 100).
    seed:
        Seed of the resampling, so that the same inputs always give the same interval.

    Returns
    -------
    PairedDifference
        ``mean``, ``low``, ``high``, ``p_value``, ``seeds_ahead``, ``seeds``, ``examples`` and ``verdict``
        (``"level"`` when the interval holds zero).

    Notes
    -----
    Each replicate resamples the evaluation examples with replacement (the same examples for every seed: they
    are one sample of the task) and the difference is averaged over them. With one seed the interval is the
    percentile interval of the replicates and the p-value is the share of replicates at least as far from the
    observed mean as the mean is from zero. With several seeds, the seeds are resampled too, but a percentile
    interval over three resampled seeds is far too narrow; the interval is then ``mean ± t * se``, where
    ``se`` adds the examples' bootstrap variance and the seeds' bootstrap variance (rescaled by
    ``S / (S - 1)``, the usual small-sample correction), and ``t`` is Student's quantile with Satterthwaite's
    degrees of freedom; the p-value comes from the same t distribution. Hand-written because scipy's
    ``bootstrap`` resamples one axis at a time; deepsig's Almost Stochastic Order compares seed
    distributions but has no paired, per-example interval.

    Examples
    --------
    >>> result = paired_difference([1, 1, 0, 1, 1, 0, 1, 1], [1, 0, 0, 1, 0, 0, 1, 1], n_resamples=2000)
    >>> round(result.mean, 3), result.verdict, result.seeds_ahead
    (0.25, 'level', 1)
    >>> result = paired_difference([[1, 1, 0, 1], [1, 1, 1, 1]], [[1, 0, 0, 1], [1, 0, 1, 1]], seeds=[0, 1])
    >>> round(result.mean, 3), result.seeds, result.seeds_ahead
    (0.25, 2, 2)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"paired_difference(): confidence must lie in (0, 1); got {confidence!r} (e.g. 0.95).")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 100:
        raise ValueError(f"paired_difference(): n_resamples must be an integer of at least 100; got {n_resamples!r}.")
    left, left_keys = _as_matrix(a, "a", seeds)
    right, right_keys = _as_matrix(b, "b", seeds)
    if (left_keys is None) != (right_keys is None):
        raise ValueError("paired_difference(): pass a and b in the same form (both mappings of seed -> scores, or "
                         "both arrays).")
    if left_keys is not None:
        if seeds is not None:
            raise ValueError("paired_difference(): a and b are mappings keyed by seed already; drop seeds=.")
        only = sorted(set(left_keys) ^ set(right_keys), key=str)
        if only:
            raise ValueError(f"paired_difference(): seeds {only} appear in only one of a and b; every seed must be "
                             "run with both methods (drop the unmatched seeds, or run them).")
        right = right[[right_keys.index(key) for key in left_keys]]
    elif seeds is not None:
        labels = list(seeds)
        if len(set(map(str, labels))) != len(labels):
            raise ValueError(f"paired_difference(): seeds must be distinct; got {labels}.")
        for name, matrix in (("a", left), ("b", right)):
            if len(matrix) != len(labels):
                raise ValueError(f"paired_difference(): {name} has {len(matrix)} seed rows but seeds= names "
                                 f"{len(labels)}; give one row per seed in both.")
    if left.shape != right.shape:
        raise ValueError(f"paired_difference(): a and b must score the same seeds and examples; got shapes "
                         f"{left.shape} and {right.shape} (seeds, examples).")
    n_seeds, n_examples = left.shape
    if n_seeds == 0 or n_examples == 0:
        raise ValueError("paired_difference(): no scores to compare; a and b are empty.")
    if not (np.all(np.isfinite(left)) and np.all(np.isfinite(right))):
        raise ValueError("paired_difference(): a and b must be finite; found NaN or infinite scores (drop the "
                         "examples a method did not score, from both).")

    difference = left - right
    mean = float(difference.mean())
    per_seed = difference.mean(axis=1)
    seeds_ahead = int((left.mean(axis=1) > right.mean(axis=1)).sum())
    generator = np.random.default_rng(seed)
    alpha = 1 - confidence

    # Examples resampled with replacement, shared across seeds: replicate r's mean is counts_r @ per_example / n.
    per_example = difference.mean(axis=0)
    replicates = np.empty(n_resamples)
    for start in range(0, n_resamples, 1000):
        stop = min(start + 1000, n_resamples)
        counts = generator.multinomial(n_examples, np.full(n_examples, 1 / n_examples), size=stop - start)
        replicates[start:stop] = counts @ per_example / n_examples
    if n_seeds == 1:
        if n_examples == 1:
            raise ValueError("paired_difference(): one seed with one score gives no interval; pass per-example "
                             "scores or several seeds.")
        low, high = np.quantile(replicates, [alpha / 2, 1 - alpha / 2])
        p_value = float((np.sum(np.abs(replicates - mean) >= abs(mean) - 1e-12) + 1) / (n_resamples + 1))
        return PairedDifference(mean, float(min(low, mean)), float(max(high, mean)), min(p_value, 1.0), confidence,
                                1, seeds_ahead, n_examples)

    example_variance = float(replicates.var()) if n_examples > 1 else 0.0
    seed_draws = generator.integers(0, n_seeds, size=(n_resamples, n_seeds))
    seed_variance = float(per_seed[seed_draws].mean(axis=1).var()) * n_seeds / (n_seeds - 1)
    variance = example_variance + seed_variance
    if variance <= 0:
        return PairedDifference(mean, mean, mean, 1.0 if mean == 0 else 0.0, confidence, n_seeds, seeds_ahead,
                                n_examples)
    terms = seed_variance**2 / (n_seeds - 1) + (example_variance**2 / (n_examples - 1) if n_examples > 1 else 0.0)
    freedom = variance**2 / terms
    spread = float(stats.t.ppf(1 - alpha / 2, freedom)) * np.sqrt(variance)
    p_value = float(2 * stats.t.sf(abs(mean) / np.sqrt(variance), freedom))
    return PairedDifference(mean, mean - spread, mean + spread, p_value, confidence, n_seeds, seeds_ahead,
                            n_examples)
