"""Maps that cost less than a full training run, and what a map's time series is good for: per-example trajectories
(p(gold) or loss at every recorded time point), trajectory-cluster selection (SmallToLarge), the training dynamics
of a linear probe on frozen embeddings, and a map of a sample extended to the whole data by nearest neighbours.

``DataMap.trajectories``, ``DataMap.select_trajectories``, ``DataMap.from_probe`` and ``DataMap.extend`` call
these functions; they take arrays and return arrays.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np
import torch

from greennlp._seeding import seeded_rng

from .regions import count_for_fraction

#: Trajectory kinds: the per-time-point value of each example that ``DataMap.trajectories`` returns.
TRAJECTORY_KINDS = ("p_gold", "loss", "margin")
# p(gold) below this is read as this when taking its log (a loss of about 27.6 nats)
_SMALLEST_PROBABILITY = 1e-12


def record_arrays(records: Iterable[tuple[int, dict[str, np.ndarray]]], num_examples: int) -> dict[str, object]:
    """The per-time-point records of a map as ``(N, T)`` arrays, one column per (epoch, snapshot) in time order.

    Returns ``p_gold`` (NaN where an example was not recorded), ``correct``, ``margin``, ``probs`` (``(N, T, C)``
    where every record holds its probability vector, else ``None``), ``gold`` (``(N,)``, -1 where never recorded)
    and ``time_points`` (the ``(epoch, snapshot)`` of each column).
    """
    columns, time_points = [], []
    for epoch, record in records:
        for snapshot in np.unique(record["snapshot"]):
            at = record["snapshot"] == snapshot
            columns.append({name: values[at] for name, values in record.items()})
            time_points.append((int(epoch), int(snapshot)))
    steps = len(columns)
    p_gold = np.full((num_examples, steps), np.nan)
    correct = np.zeros((num_examples, steps), dtype=bool)
    margin = np.full((num_examples, steps), np.nan)
    gold = np.full(num_examples, -1, dtype=np.int64)
    with_probabilities = bool(columns) and all("probs" in column for column in columns)
    probs = None
    for t, column in enumerate(columns):
        rows = column["row"].astype(np.int64)
        p_gold[rows, t] = column["p_gold"]
        correct[rows, t] = column["correct"]
        margin[rows, t] = column["margin"]
        gold[rows] = column["gold"]
        if with_probabilities:
            if probs is None:
                probs = np.full((num_examples, steps, column["probs"].shape[1]), np.nan)
            probs[rows, t] = column["probs"]
    return {"p_gold": p_gold, "correct": correct, "margin": margin, "probs": probs, "gold": gold,
            "time_points": time_points}


def trajectory_values(arrays: dict[str, object], kind: str) -> np.ndarray:
    """The ``(N, T)`` trajectory of ``kind`` (:data:`TRAJECTORY_KINDS`) from :func:`record_arrays`; NaN where an
    example was not recorded. ``loss`` is the cross-entropy of the gold label, ``-log p(gold)``.

    >>> arrays = {"p_gold": np.array([[0.5, 1.0], [np.nan, 0.25]]), "margin": np.zeros((2, 2))}
    >>> trajectory_values(arrays, "loss").round(3)
    array([[0.693, 0.   ],
           [  nan, 1.386]])
    """
    if kind not in TRAJECTORY_KINDS:
        raise ValueError(f"kind={kind!r}: choose one of {list(TRAJECTORY_KINDS)} (p_gold: probability of the gold "
                         "label; loss: its cross-entropy, -log p(gold); margin: gold logit minus the largest other).")
    if kind == "margin":
        margin = np.array(arrays["margin"], dtype=np.float64)
        margin[np.isnan(arrays["p_gold"])] = np.nan
        return margin
    p_gold = np.asarray(arrays["p_gold"], dtype=np.float64)
    if kind == "p_gold":
        return p_gold.copy()
    with np.errstate(invalid="ignore"):
        return 0.0 - np.log(np.clip(p_gold, _SMALLEST_PROBABILITY, 1.0))  # 0.0 - ...: no -0.0 at p = 1


def balanced_draw(groups: list[np.ndarray], count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` items drawn evenly from ``groups``: from the smallest group up, each gives an equal share of what
    is left of the budget (a group smaller than its share gives all it has, and the rest goes to the larger
    groups); items are drawn at random within a group.

    >>> groups = [np.arange(0, 2), np.arange(2, 12), np.arange(12, 30)]
    >>> chosen = balanced_draw(groups, 12, np.random.default_rng(0))
    >>> [int(np.isin(group, chosen).sum()) for group in groups]   # 2 (all of it), then 5 and 5
    [2, 5, 5]
    """
    groups = [np.asarray(group) for group in groups if len(group)]
    available = sum(len(group) for group in groups)
    if count > available:
        raise ValueError(f"asked for {count} items but the groups hold {available}.")
    chosen, budget = [], count
    for index, group in enumerate(sorted(groups, key=len)):  # smallest first; sorted() is stable
        share = min(len(group), budget // (len(groups) - index))
        chosen.append(rng.choice(group, size=share, replace=False))
        budget -= share
    return np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)


def trajectory_positions(values: np.ndarray, fraction: float, *, clusters: int = 100, seed: int = 0) -> np.ndarray:
    """Positions chosen by SmallToLarge (S2L; Yang et al. 2024, "SmallToLarge (S2L): Scalable Data Selection for
    Fine-tuning Large Language Models by Summarizing Training Trajectories of Small Models"): k-means on the
    ``(N, T)`` trajectories, then :func:`balanced_draw` from the clusters. The count is exact: ``fraction`` of all
    ``N`` rows, rounded half up.

    Examples never recorded (a row of NaN) are never chosen; a missing time point of a recorded example is filled
    with that time point's mean before clustering. ``clusters`` is capped at the number of recorded examples.

    >>> rng = np.random.default_rng(0)
    >>> values = np.vstack([rng.normal(0, 0.01, (90, 3)), rng.normal(5, 0.01, (10, 3))])  # a large and a small group
    >>> chosen = trajectory_positions(values, 0.2, clusters=2, seed=0)
    >>> len(chosen), int((chosen >= 90).sum())     # 20 examples, 10 from each cluster
    (20, 10)
    """
    from sklearn.cluster import KMeans

    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"trajectories must have shape (num_examples, num_time_points); got {values.shape}.")
    if isinstance(clusters, bool) or not isinstance(clusters, numbers.Integral) or clusters < 1:
        raise ValueError(f"clusters={clusters!r}: give a positive whole number of k-means clusters (e.g. 100).")
    count = count_for_fraction(fraction, len(values))
    recorded = np.flatnonzero(~np.isnan(values).all(axis=1))
    if count > len(recorded):
        raise ValueError(f"fraction={fraction} asks for {count} examples but only {len(recorded)} of the "
                         f"{len(values)} were ever recorded; lower the fraction.")
    rng = np.random.default_rng(seed)
    if count == 0:
        return np.empty(0, dtype=np.int64)
    features = values[recorded]
    missing = np.isnan(features)
    if missing.any():
        features = np.where(missing, np.nanmean(features, axis=0, keepdims=True), features)
    k = min(int(clusters), len(recorded))
    assignment = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(features)
    groups = [recorded[assignment == cluster] for cluster in range(k)]
    return balanced_draw(groups, count, rng)


def probe_logits(embeddings, labels, *, num_labels: int | None = None, epochs: int = 10,
                 snapshots_per_epoch: int = 1, learning_rate: float = 1e-3, batch_size: int = 32,
                 weight_decay: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train a linear softmax classifier on frozen ``embeddings`` ``(N, d)`` with minibatch Adam and return the
    logits of every example at each snapshot, ``(N, epochs * snapshots_per_epoch, C)``, with the labels as class ids.

    Each epoch visits the examples in a seeded random order; snapshots are evenly spaced over the epoch's steps,
    the last at its end, and score all examples with the weights of that moment. The initialisation and the
    order come from ``seed`` alone (the caller's torch RNG is left as it was).
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or not len(x):
        raise ValueError(f"embeddings must have shape (num_examples, dim) with at least one example; got {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError("embeddings hold NaN or infinite values.")
    y = np.asarray(labels)
    if y.shape != (len(x),):
        raise ValueError(f"labels must hold one class id per embedding: shape ({len(x)},); got {y.shape}.")
    if y.dtype.kind not in "iub" or (y < 0).any():
        raise ValueError("labels must be non-negative whole class ids (map label names to ids first).")
    classes = int(num_labels) if num_labels is not None else max(int(y.max()) + 1, 2)
    if y.max() >= classes:
        raise ValueError(f"labels go up to {int(y.max())} but num_labels={classes}.")
    for name, value in (("epochs", epochs), ("snapshots_per_epoch", snapshots_per_epoch), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name}={value!r}: give a positive whole number.")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive; got {learning_rate!r}.")
    steps = math.ceil(len(x) / batch_size)
    if snapshots_per_epoch > steps:
        raise ValueError(f"snapshots_per_epoch={snapshots_per_epoch} is more than the {steps} optimizer steps of an "
                         f"epoch ({len(x)} examples, batch_size={batch_size}).")
    snapshot_after = {math.ceil(steps * (k + 1) / snapshots_per_epoch) for k in range(snapshots_per_epoch)}
    features, targets = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    generator = torch.Generator().manual_seed(seed)
    with seeded_rng(seed):
        probe = torch.nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.Adam(probe.parameters(), lr=learning_rate, weight_decay=weight_decay)
    recorded = []
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for step in range(steps):
            batch = order[step * batch_size:(step + 1) * batch_size]
            loss = torch.nn.functional.cross_entropy(probe(features[batch]), targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step + 1 in snapshot_after:
                with torch.no_grad():
                    recorded.append(probe(features).numpy().copy())
    return np.stack(recorded, axis=1), y.astype(np.int64)


def probe_flops(num_examples: int, dim: int, num_labels: int, *, epochs: int, snapshots_per_epoch: int) -> int:
    """FLOPs of :func:`probe_logits` (a multiply-add is 2): per epoch a forward and a weight-gradient pass over every
    example (``4 N d C``), and a forward pass over every example at each snapshot (``2 N d C``). Bias terms and
    the softmax are elementwise and not counted, as in ``torch.utils.flop_counter``.

    >>> probe_flops(100, 384, 2, epochs=10, snapshots_per_epoch=1)   # 10 x (4 + 2) x 100 x 384 x 2
    4608000
    """
    per_pass = 2 * num_examples * dim * num_labels
    return int(epochs * (2 * per_pass + snapshots_per_epoch * per_pass))


def nearest_neighbours(queries: np.ndarray, keys: np.ndarray, k: int, *, chunk: int = 4096) -> np.ndarray:
    """Indices ``(len(queries), k)`` of the ``k`` rows of ``keys`` most cosine-similar to each query, nearest first
    (ties by lower index). Brute force in chunks of ``chunk`` queries: exact, and O(chunk x len(keys)) memory.

    >>> keys = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> nearest_neighbours(np.array([[1.0, 0.1]]), keys, 2)
    array([[0, 2]])
    """
    queries = _unit(np.asarray(queries, dtype=np.float32))
    keys = _unit(np.asarray(keys, dtype=np.float32))
    k = min(int(k), len(keys))
    result = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        similarity = queries[start:start + chunk] @ keys.T
        if k < len(keys):
            part = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(len(keys)), similarity.shape).copy()
        picked = np.take_along_axis(similarity, part, axis=1)
        order = np.lexsort((part, -picked), axis=1)
        result[start:start + chunk] = np.take_along_axis(part, order, axis=1)
    return result


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def extended_arrays(arrays: dict[str, object], embeddings, gold, *, rows, neighbours: int = 10,
                    num_labels: int | None = None) -> dict[str, np.ndarray]:
    """``(N, T)`` arrays for every row of a dataset from the :func:`record_arrays` of a map of some of its rows.

    ``embeddings`` ``(N, d)`` and ``gold`` ``(N,)`` describe every row; ``rows`` gives the dataset row of each of the
    map's examples. A mapped row keeps its own records. Every other row gets, at each time point, the mean
    probability vector of its ``neighbours`` nearest mapped rows (cosine similarity of the embeddings; those
    recorded at that time point), read at its *own* gold label: a row labelled against its neighbours gets a low
    p(gold), as a label error should. Its margin is the log-probability margin of that mean vector (the logit
    margin of logits equal to the log-probabilities) and it is correct when the mean vector's argmax is its gold.
    Binary maps need no stored probabilities; multiclass maps need them (``store_probabilities=True``).
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    gold = np.asarray(gold)
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must have shape (num_rows, dim); got {embeddings.shape}.")
    total = len(embeddings)
    if gold.shape != (total,):
        raise ValueError(f"gold must hold one label per row of embeddings: shape ({total},); got {gold.shape}.")
    if gold.dtype.kind not in "iu" or (gold < 0).any():
        raise ValueError("gold must hold non-negative whole class ids, one per row.")
    gold = gold.astype(np.int64)
    mapped_gold = np.asarray(arrays["gold"])
    rows = np.asarray(rows)
    if rows.shape != mapped_gold.shape or rows.dtype.kind not in "iu":
        raise ValueError(f"rows must give the dataset row (a whole number) of each of the map's {len(mapped_gold)} "
                         f"examples, in the map's order; got shape {rows.shape}.")
    rows = rows.astype(np.int64)
    if len(rows) and (rows.min() < 0 or rows.max() >= total):
        raise ValueError(f"rows must be positions in [0, {total}) of the {total} rows of embeddings.")
    if len(np.unique(rows)) != len(rows):
        raise ValueError("rows must be distinct: each example of the map is one row of the dataset.")
    if isinstance(neighbours, bool) or not isinstance(neighbours, numbers.Integral) or neighbours < 1:
        raise ValueError(f"neighbours={neighbours!r}: give a positive whole number (e.g. 10).")
    recorded = mapped_gold >= 0
    mismatch = np.flatnonzero(recorded & (gold[rows] != mapped_gold))
    if len(mismatch):
        at = int(mismatch[0])
        raise ValueError(f"The map's example {at} has gold label {int(mapped_gold[at])} but its row {int(rows[at])} "
                         f"is labelled {int(gold[rows[at]])} ({len(mismatch)} such examples): rows must point at the "
                         "rows the map was recorded on, and gold must be their labels.")
    p_gold = np.asarray(arrays["p_gold"], dtype=np.float64)
    probs = arrays["probs"]
    classes = num_labels or (probs.shape[2] if probs is not None else max(int(gold.max()) + 1, 2))
    if probs is None:
        if classes != 2:
            raise ValueError("Extending a multiclass map needs each record's probability vector: record it with "
                             "DataMapCallback(store_probabilities=True), or build it with from_logits.")
        other = np.where(np.isnan(p_gold), np.nan, 1.0 - p_gold)
        probs = np.stack([np.where(mapped_gold[:, None] == 0, p_gold, other),
                          np.where(mapped_gold[:, None] == 1, p_gold, other)], axis=2)
    probs = np.asarray(probs, dtype=np.float64)
    if gold.max() >= classes:
        raise ValueError(f"gold goes up to {int(gold.max())} but the map has {classes} labels.")
    steps = p_gold.shape[1]
    out_probs = np.full((total, steps, classes), np.nan)
    out_probs[rows] = probs
    out_p = np.full((total, steps), np.nan)
    out_correct = np.zeros((total, steps), dtype=bool)
    out_margin = np.full((total, steps), np.nan)
    out_p[rows] = p_gold
    out_correct[rows] = np.asarray(arrays["correct"], dtype=bool)
    out_margin[rows] = np.asarray(arrays["margin"], dtype=np.float64)
    keys = rows[recorded]
    if not len(keys):
        raise ValueError("The map has no recorded example to extend from.")
    others = np.setdiff1d(np.arange(total), rows)
    if len(others):
        nearest = recorded.nonzero()[0][nearest_neighbours(embeddings[others], embeddings[keys], neighbours)]
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(probs[nearest], axis=1)  # (others, T, C): NaN where no neighbour was recorded at t
        out_probs[others] = mean
        own = np.take_along_axis(mean, gold[others][:, None, None].repeat(steps, axis=1), axis=2)[..., 0]
        log = np.log(np.clip(mean, _SMALLEST_PROBABILITY, 1.0))
        log_own = np.take_along_axis(log, gold[others][:, None, None].repeat(steps, axis=1), axis=2)[..., 0]
        np.put_along_axis(log, gold[others][:, None, None].repeat(steps, axis=1), -np.inf, axis=2)
        out_p[others] = own
        out_margin[others] = np.where(np.isnan(own), np.nan, log_own - log.max(axis=2))
        out_correct[others] = np.nan_to_num(mean, nan=-1.0).argmax(axis=2) == gold[others][:, None]
    out_margin[np.isnan(out_p)] = 0.0  # not recorded: ignored by from_arrays, which needs finite margins elsewhere
    return {"p_gold": out_p, "correct": out_correct, "margin": out_margin, "probs": out_probs, "gold": gold}
