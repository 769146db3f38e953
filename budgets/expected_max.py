"""Expected validation performance (Dodge et al. 2019, "Show Your Work"): the expected best score among
``n`` random hyperparameter trials, with its spread, computed exactly from ``N`` observed trial scores."""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from greennlp._files import save_figure


def expected_max_performance(scores: Sequence[float], n_values: Sequence[int] | None = None) -> pd.DataFrame:
    """Expected maximum of ``n`` draws (with replacement) from the empirical distribution of ``scores``.

    With the ``N`` scores sorted ascending, ``v(1) <= ... <= v(N)``, the maximum of ``n`` draws equals
    ``v(i)`` with probability ``p_i = (i/N)^n - ((i-1)/N)^n``, so ``E[max] = sum_i v(i) p_i`` and
    ``std = sqrt(sum_i p_i (v(i) - E[max])^2)``. ``n = 1`` gives the mean (and the population std); as ``n``
    grows the expectation tends to ``max(scores)`` and the std to 0.

    Parameters
    ----------
    scores:
        Validation scores of ``N >= 1`` independent trials (e.g. random hyperparameter search).
    n_values:
        Budgets (numbers of trials) to evaluate; default ``1..N``. Values above ``N`` are allowed by the
        formula but extrapolate beyond what was observed, so they are refused.

    Returns
    -------
    pandas.DataFrame
        Columns ``n``, ``expected_max``, ``std``, one row per budget.

    Examples
    --------
    >>> expected_max_performance([1.0, 2.0, 3.0]).round(4).to_dict("list")
    {'n': [1, 2, 3], 'expected_max': [2.0, 2.4444, 2.6667], 'std': [0.8165, 0.6849, 0.5443]}
    """
    values = np.sort(np.asarray(scores, dtype=float).ravel())
    total = len(values)
    if total == 0:
        raise ValueError("expected_max_performance() needs at least one score; got an empty sequence.")
    if not np.all(np.isfinite(values)):
        raise ValueError("expected_max_performance() got NaN or infinite scores; drop failed trials first.")
    budgets = np.arange(1, total + 1) if n_values is None else np.asarray(n_values, dtype=int).ravel()
    if budgets.size and (budgets.min() < 1 or budgets.max() > total):
        raise ValueError(
            f"n_values must lie in 1..{total} (the number of scores); got {budgets.tolist()}. "
            "Run more trials to estimate larger budgets."
        )
    ranks = np.arange(1, total + 1) / total
    rows = []
    for n in budgets:
        probabilities = ranks**n - (ranks - 1 / total) ** n
        expected = float(probabilities @ values)
        spread = float(np.sqrt(max(probabilities @ (values - expected) ** 2, 0.0)))
        rows.append((int(n), expected, spread))
    return pd.DataFrame(rows, columns=["n", "expected_max", "std"])


def plot_expected_max(
    scores: Sequence[float],
    *,
    costs: Sequence[float] | None = None,
    cost_label: str = "cost (s)",
    label: str | None = None,
    axes=None,
    path: str | os.PathLike | None = None,
):
    """Plot expected max performance (mean +- std band) against trials and, given ``costs``, against cost.

    The cost of a budget of ``n`` trials is ``n`` times the mean cost of one trial (Dodge et al. 2019).
    Pass ``axes`` (one axis, or two when ``costs`` is given) to overlay several models. Returns the
    ``matplotlib.figure.Figure`` (built without pyplot, so nothing global is left open), saved to ``path``
    (PNG/SVG) when given.
    """
    from matplotlib.figure import Figure

    frame = expected_max_performance(scores)
    panels = 2 if costs is not None else 1
    if axes is None:
        figure = Figure(figsize=(5 * panels, 3.6))
        axes = list(figure.subplots(1, panels, squeeze=False)[0])
    else:
        axes = list(np.atleast_1d(axes))
        figure = axes[0].figure
    if len(axes) != panels:
        raise ValueError(f"plot_expected_max() needs {panels} axes for costs={'given' if costs is not None else None}; "
                         f"got {len(axes)}.")
    xs = [frame["n"].to_numpy(float)]
    if costs is not None:
        costs = np.asarray(costs, dtype=float)
        if len(costs) != len(frame):
            raise ValueError(f"costs has {len(costs)} entries but scores has {len(frame)}; give one cost per trial.")
        xs.append(frame["n"].to_numpy(float) * costs.mean())
    for axis, x, xlabel in zip(axes, xs, ["trials (n)", cost_label][:panels], strict=True):
        mean, std = frame["expected_max"].to_numpy(), frame["std"].to_numpy()
        line = axis.plot(x, mean, marker="o", markersize=3, label=label)[0]
        axis.fill_between(x, mean - std, mean + std, alpha=0.2, color=line.get_color())
        axis.set_xlabel(xlabel)
        axis.set_ylabel("expected max validation score")
        axis.grid(alpha=0.3)
        if label:
            axis.legend()
    if path is not None:
        save_figure(path, figure)
    return figure
