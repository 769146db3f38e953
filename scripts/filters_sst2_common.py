"""Shared parts of the SST-2 selection comparison (``filters_sst2_selection.py``, ``filters_sst2_probe.py``): the
data, the methods, where each seed's data map lives, per-seed score sources and selectors, and the summary table.

Every method is run with the same seeds: seed ``s`` uses the data map recorded by the full-data run with seed
``s``, k-means with ``random_state=s``, selection tie-breaks / random subsets with seed ``s`` and training seed ``s``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from datasets import Dataset

# private on purpose: the library's one mean ± std (population std, ddof=0), as in its own summaries
from greennlp._results import mean_std
from greennlp.datamaps import DataMap
from greennlp.encoders import load_benchmark
from greennlp.filters import PrototypePruner, select_stratified

# method -> (score, which end to keep). Every method selects class-stratified (same count per class as random),
# because one-ended score selection can pick one class almost only (EL2N did early in a pilot run).
METHODS = {
    "random": (None, "random"),
    "ambiguous": ("variability", "highest"),  # the data map's ambiguous region (Swayamdipta et al. 2020)
    "el2n (highest)": ("el2n", "highest"),  # Paul et al. 2021 keep the highest EL2N
    "aum (lowest)": ("aum", "lowest"),  # lowest margin = hardest / most likely mislabeled (Pleiss et al. 2020)
    "prototype hard": ("prototype", "highest"),  # Sorscher et al. 2022: far from the prototype
    "prototype easy": ("prototype", "lowest"),
}
MAP_SCORES = ("variability", "el2n", "aum")
EVAL_NAMES = ("sst2_dev", "imdb", "cr")


def load_texts(train_size: int, ood_size: int) -> tuple[Dataset, dict[str, Dataset]]:
    """The seeded SST-2 training subset and the eval sets (SST-2 dev; seeded IMDB test and CR subsets)."""
    train = load_benchmark("sst2", "train", limit=train_size, seed=0)
    evals = {
        "sst2_dev": load_benchmark("sst2", "dev"),
        "imdb": load_benchmark("imdb", "test", limit=ood_size, seed=0),
        "cr": load_benchmark("cr", "all", limit=ood_size, seed=0),
    }
    return train, evals


def map_dir(output: Path, seed: int) -> Path:
    """Folder of the data map recorded by the full-data tiny-BERT run with ``seed``."""
    return Path(output) / "maps" / f"seed{seed}"


def load_map(output: Path, seed: int, n_rows: int) -> DataMap:
    """The data map of ``seed``, checked against the training set size; a clear error when it is missing."""
    folder = map_dir(output, seed)
    if not (folder / "metadata.json").is_file():
        raise SystemExit(f"No data map for seed {seed} in {folder}: run scripts/filters_sst2_selection.py "
                         f"--stage maps --seeds {seed} with the same --train and --output first.")
    data_map = DataMap.load(folder)
    if len(data_map.table) != n_rows:
        raise SystemExit(f"The map in {folder} has {len(data_map.table)} rows, not {n_rows}: record it with the "
                         "same --train.")
    return data_map


def score_sources(data_map: DataMap, embeddings: np.ndarray, labels: Sequence[int], clusters: int,
                  seed: int) -> dict[str, object]:
    """``{score name: per-row scores}`` for one seed: the map's columns and prototype distances (k-means ``seed``)."""
    sources: dict[str, object] = {name: data_map.scores(name) for name in MAP_SCORES}
    pruner = PrototypePruner(n_clusters=clusters, per_class=True, random_state=seed).fit(embeddings, y=labels)
    sources["prototype"] = pruner.scores_
    return sources


def selector(method: str, sources_by_seed: Mapping[int, Mapping[str, object]]):
    """A ``selector(dataset, fraction, seed) -> Dataset`` (the ``budgets.BudgetCurve`` shape) for ``method``,
    reading the scores of that same seed."""
    source, keep = METHODS[method]

    def select(dataset: Dataset, fraction: float, seed: int) -> Dataset:
        scores = None if source is None else sources_by_seed[seed][source]
        return select_stratified(dataset, scores, fraction, keep=keep, seed=seed)

    select.__name__ = method
    return select


def summary_markdown(table: pd.DataFrame, metrics: Sequence[str], method_column: str = "method") -> str:
    """Markdown table of mean (population std, ddof=0) over seeds per fraction and method, with the seeds behind each row."""
    order = {"full": -1, **{name: i for i, name in enumerate(METHODS)}}
    rows = ["| fraction | method | seeds | " + " | ".join(metrics) + " |", "|---" * (3 + len(metrics)) + "|"]
    table = table.assign(_order=table[method_column].map(order)).sort_values(["fraction", "_order", "seed"])
    previous = None
    for (fraction, method), group in table.groupby(["fraction", method_column], sort=False):
        cells = []
        for metric in metrics:
            mean, std = mean_std(group[metric])  # population std (ddof=0), the project convention
            cells.append(f"{mean:.3f} ({std:.3f})".replace("0.", "."))
        seeds = ",".join(str(int(s)) for s in group["seed"])
        shown = f"{fraction:g}" if fraction != previous else ""
        previous = fraction
        rows.append(f"| {shown} | {method} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(rows)
