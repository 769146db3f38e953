"""Training-dynamics metrics, defined once: every other module calls these.

Definitions (pinned by tests against hand-computed values), over the T recorded time points of an example
(epochs, or snapshots within epochs):

- ``confidence``: mean over time points of p(gold) (Swayamdipta et al. 2020).
- ``variability``: population standard deviation (ddof=0, as in the paper's code) of p(gold).
- ``correctness``: fraction of time points where argmax of the logits equals gold (the paper's definition;
  not p(gold) > 0.5, which differs for multiclass).
- ``forgetfulness``: number of correct -> incorrect transitions between consecutive observed time points
  (Toneva et al. 2019).
- ``aum``: mean margin, gold logit minus the largest other logit (Pleiss et al. 2020).
- ``el2n``: mean L2 norm of (probability vector - one-hot gold) (Paul et al. 2021); only where full
  probability vectors were stored.
- ``observations``: number of time points at which the example was recorded.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

METRIC_COLUMNS = ("confidence", "variability", "correctness", "forgetfulness", "aum", "el2n", "observations")


def gold_statistics(logits: torch.Tensor, gold: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-example p(gold), argmax == gold, margin and the probability vector, from ``(B, C)`` logits."""
    logits = logits.detach().float()
    # gold can come from the host (labels looked up in the dataset) while the logits sit on a GPU
    gold = gold.detach().to(logits.device).long().view(-1, 1)
    probabilities = torch.softmax(logits, dim=-1)
    gold_logit = logits.gather(1, gold).squeeze(1)
    others = logits.scatter(1, gold, float("-inf"))
    return {
        "p_gold": probabilities.gather(1, gold).squeeze(1),
        "correct": logits.argmax(dim=-1) == gold.squeeze(1),
        "margin": gold_logit - others.max(dim=-1).values,
        "probs": probabilities,
    }


def el2n(probabilities: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """L2 norm of ``probabilities - one_hot(gold)`` per row: the EL2N score of one time point.

    >>> el2n([[0.8, 0.2], [0.5, 0.5]], [0, 1]).round(4)
    array([0.2828, 0.7071])
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    error = probabilities.copy()
    error[np.arange(len(gold)), np.asarray(gold, dtype=np.int64)] -= 1.0
    return np.sqrt((error**2).sum(axis=1))


class DynamicsAccumulator:
    """Running sums over time points, so that a map of N examples needs O(N) memory, not O(N x T).

    Call :meth:`update` once per time point, in time order, with the examples recorded at that point
    (given by their position ``0 <= row < num_examples``), then :meth:`finalize`.
    """

    def __init__(self, num_examples: int):
        self.num_examples = num_examples
        self.count = np.zeros(num_examples, dtype=np.int64)
        self.sum_p = np.zeros(num_examples)
        self.sum_p2 = np.zeros(num_examples)
        self.sum_correct = np.zeros(num_examples, dtype=np.int64)
        self.sum_margin = np.zeros(num_examples)
        self.sum_el2n = np.zeros(num_examples)
        self.el2n_count = np.zeros(num_examples, dtype=np.int64)
        self.forgets = np.zeros(num_examples, dtype=np.int64)
        self.previous_correct = np.zeros(num_examples, dtype=bool)
        self.gold = np.full(num_examples, -1, dtype=np.int64)

    def update(self, rows, p_gold, correct, margin, gold, el2n_score=None) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if len(np.unique(rows)) != len(rows):
            raise ValueError("An example was recorded twice at one time point; each must appear at most once.")
        correct = np.asarray(correct, dtype=bool)
        p_gold = np.asarray(p_gold, dtype=np.float64)
        seen_before = self.count[rows] > 0
        self.forgets[rows] += (seen_before & self.previous_correct[rows] & ~correct).astype(np.int64)
        self.previous_correct[rows] = correct
        self.count[rows] += 1
        self.sum_p[rows] += p_gold
        self.sum_p2[rows] += p_gold**2
        self.sum_correct[rows] += correct
        self.sum_margin[rows] += np.asarray(margin, dtype=np.float64)
        self.gold[rows] = np.asarray(gold, dtype=np.int64)
        if el2n_score is not None:
            self.sum_el2n[rows] += np.asarray(el2n_score, dtype=np.float64)
            self.el2n_count[rows] += 1

    def finalize(self) -> pd.DataFrame:
        """The metric table, one row per position; examples never recorded get NaN metrics."""
        with np.errstate(invalid="ignore", divide="ignore"):
            count = np.where(self.count > 0, self.count, np.nan)
            confidence = self.sum_p / count
            variance = np.clip(self.sum_p2 / count - confidence**2, 0.0, None)
            el2n_count = np.where(self.el2n_count > 0, self.el2n_count, np.nan)
            table = pd.DataFrame(
                {
                    "confidence": confidence,
                    "variability": np.sqrt(variance),
                    "correctness": self.sum_correct / count,
                    "forgetfulness": self.forgets,
                    "aum": self.sum_margin / count,
                    "el2n": self.sum_el2n / el2n_count,
                    "observations": self.count,
                    "gold": self.gold,
                }
            )
        if not self.el2n_count.any():
            table = table.drop(columns="el2n")
        return table


def metrics_from_arrays(p_gold, correct, margin, gold, probabilities=None) -> pd.DataFrame:
    """Metric table from ``(N, T)`` arrays (NaN in ``p_gold`` marks a missing record); see module docstring.

    Two examples over two epochs: the first is learned, then forgotten; the second stays correct.

    >>> table = metrics_from_arrays(p_gold=[[0.8, 0.2], [0.6, 0.9]], correct=[[1, 0], [1, 1]],
    ...                             margin=[[1.5, -1.5], [0.5, 2.5]], gold=[0, 1])
    >>> table[["confidence", "variability", "correctness", "forgetfulness"]].round(3).to_dict("list")
    {'confidence': [0.5, 0.75], 'variability': [0.3, 0.15], 'correctness': [0.5, 1.0], 'forgetfulness': [1, 0]}
    """
    p_gold = np.asarray(p_gold, dtype=np.float64)
    if p_gold.ndim != 2:
        raise ValueError(f"p_gold must have shape (num_examples, num_time_points); got {p_gold.shape}.")
    correct, margin = np.asarray(correct), np.asarray(margin, dtype=np.float64)
    if correct.shape != p_gold.shape or margin.shape != p_gold.shape:
        raise ValueError("p_gold, correct and margin must have the same (num_examples, num_time_points) shape.")
    gold = np.asarray(gold, dtype=np.int64)
    if probabilities is not None:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.shape[:2] != p_gold.shape:
            raise ValueError("probabilities must have shape (num_examples, num_time_points, num_labels).")
    accumulator = DynamicsAccumulator(len(p_gold))
    for t in range(p_gold.shape[1]):
        rows = np.flatnonzero(~np.isnan(p_gold[:, t]))
        score = None if probabilities is None else el2n(probabilities[rows, t], gold[rows])
        accumulator.update(rows, p_gold[rows, t], correct[rows, t].astype(bool), margin[rows, t], gold[rows], score)
    return accumulator.finalize()
