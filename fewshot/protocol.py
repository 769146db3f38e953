"""The few-shot protocol (LM-BFF, SetFit, PERFECT): K per class x several data seeds, accuracy with a price tag.

Every run is one row (method, K, seed, accuracy, train time, inference time per 1k, trainable parameters,
FLOPs); :func:`summarize_benchmark` gives mean ± std per method and K and, with ``output_dir``, writes the table,
the summary and the accuracy-vs-K plot.
"""
from __future__ import annotations

import contextlib
import gc
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from datasets import Dataset
from sklearn.base import clone
from tqdm.auto import tqdm

from greennlp._files import exclusive_folder, remove_stale_temporaries, save_figure, write_parquet
from greennlp._results import ResultsTable, population_std
from greennlp.budgets.flops import flop_counter
from greennlp.encoders.finetune import correctness

from .base import FewShotClassifier
from .sampling import sample_k_shot

logger = logging.getLogger(__name__)

RUN_KEY = ["dataset", "method", "k", "seed"]
RUN_COLUMNS = [
    *RUN_KEY, "accuracy", "train_seconds", "train_cpu_seconds", "inference_seconds_per_1k",
    "trainable_parameters", "train_flops", "inference_flops_per_1k", "n_train", "n_eval",
]
RUNS_FILE = "runs.parquet"
WRITER = "fewshot.run_benchmark"


def run_benchmark(
    methods: Mapping[str, FewShotClassifier],
    dataset: Dataset,
    k_values: Sequence[int] = (8, 16, 32, 64),
    seeds: int | Sequence[int] = 5,
    *,
    eval_dataset: Dataset | None = None,
    output_dir: str | os.PathLike | None = None,
    dataset_name: str = "",
    count_flops: bool = True,
    flops_sample: int = 32,
    resume: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """Run every method at every K for every data seed and return one row per run.

    For each ``(k, seed)`` the same K-shot sample (:func:`sample_k_shot`) is given to every method, and each
    method is a fresh copy (``sklearn.base.clone``) of the given one with its ``seed`` set to the data seed.
    Accuracy is measured on all of ``eval_dataset``. Price tag columns: ``train_seconds`` (wall) and
    ``train_cpu_seconds`` (process CPU time, less sensitive to other load on a shared machine),
    ``inference_seconds_per_1k`` (wall, over the whole evaluation set), ``trainable_parameters``, and with
    ``count_flops=True``: ``train_flops`` (torch operations of one extra, untimed ``fit`` for the first seed of
    each K; a multiply-add is 2 FLOPs; scikit-learn heads are not counted) and ``inference_flops_per_1k`` (from
    ``flops_sample`` evaluation texts). ``progress`` shows a progress bar over the runs.

    With ``output_dir`` the folder is held for this process alone while the benchmark runs (a second writer
    fails at once), the table gets a row in ``runs.parquet`` after every run (atomically, so an interrupted
    benchmark keeps what it finished), and at the end the summary goes to ``summary.parquet`` and the plot to
    ``accuracy_vs_k.png``. With ``resume=True`` (the default) the runs already in ``runs.parquet`` (same
    ``dataset_name``, method, K and seed) are kept and not rerun, so an interrupted or extended benchmark (more
    seeds, another K) trains only what is missing; ``resume=False`` starts the table afresh. With an
    ``output_dir`` the returned table is the whole of ``runs.parquet``.

    The evaluation labels must be the training set's integer class ids (the predictions are): string labels,
    missing labels or ids that no training example has are refused with a ``ValueError`` before any training,
    where they would otherwise score an accuracy of 0.0.

    Parameters
    ----------
    methods : mapping of str to FewShotClassifier
        The methods to compare, keyed by the name their rows get in the ``method`` column. All read the same
        ``text_column`` and ``label_column``; each is cloned for every run and never fitted itself.
    dataset : Dataset
        The training pool the K-shot samples are drawn from.
    k_values : sequence of int
        The K values (examples per class) to run; default (8, 16, 32, 64).
    seeds : int or sequence of int
        The data seeds; an int ``n`` means seeds 0 to ``n - 1`` (default 5).
    eval_dataset : Dataset
        Required: the held-out set every run is scored on, with the methods' text and label columns.
    output_dir : str or os.PathLike, optional
        Folder for ``runs.parquet``, ``summary.parquet`` and ``accuracy_vs_k.png`` (above); none written without.
    dataset_name : str
        The ``dataset`` column of every row, part of the key ``resume`` matches runs on (default "").
    count_flops : bool
        Count ``train_flops`` and ``inference_flops_per_1k`` (default ``True``).
    flops_sample : int
        Evaluation texts (the first ones) the inference FLOPs are counted on, scaled to 1,000 texts (default 32).
    resume : bool
        Keep the runs already in ``runs.parquet`` and run only the missing ones (default ``True``).
    progress : bool
        Show a progress bar over the runs (default ``True``).

    Examples
    --------
    >>> runs = run_benchmark({"probe": LinearProbe(name), "setfit": ContrastiveClassifier(name)}, train,
    ...                      k_values=(8, 16), seeds=3, eval_dataset=dev, output_dir="results")  # doctest: +SKIP
    >>> summarize_benchmark(runs)          # mean ± std per method and K                     # doctest: +SKIP
    """
    if eval_dataset is None:
        raise ValueError("run_benchmark needs eval_dataset= (the protocol reports accuracy on a held-out set).")
    if not methods:
        raise ValueError("methods is empty: pass a mapping name -> classifier, e.g. {'probe': LinearProbe(name)}.")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seed_list or not k_values:
        raise ValueError(f"Need at least one seed and one K; got seeds={seeds!r}, k_values={k_values!r}.")
    text_column, label_column = _shared_columns(methods)
    missing = [c for c in (text_column, label_column) if c not in eval_dataset.column_names]
    if missing:
        raise ValueError(f"eval_dataset has no column(s) {missing}; it has {eval_dataset.column_names}.")
    eval_texts = list(eval_dataset[text_column])
    eval_labels = _eval_labels(dataset, eval_dataset, label_column)
    with exclusive_folder(output_dir, WRITER) if output_dir is not None else contextlib.nullcontext():
        table = None
        if output_dir is not None:
            remove_stale_temporaries(output_dir)  # left by a killed benchmark; this process alone writes here now
            table = ResultsTable(Path(output_dir) / RUNS_FILE, key=RUN_KEY, writer=WRITER, required=RUN_COLUMNS)
            if not resume:
                table.replace(_table([]))
        done = table.done() if table is not None else set()
        plan = [(k, seed, name) for k in k_values for seed in seed_list for name in methods
                if (dataset_name, name, k, seed) not in done]
        if len(plan) < len(k_values) * len(seed_list) * len(methods):
            logger.info("%s: %d runs already in %s, skipped", dataset_name or "benchmark",
                        len(k_values) * len(seed_list) * len(methods) - len(plan), RUNS_FILE)
        rows, sample = [], None
        with tqdm(plan, desc=dataset_name or "few-shot benchmark", unit="run", disable=not progress) as bar:
            for k, seed, name in bar:
                bar.set_postfix_str(f"{name} k={k} seed={seed}")
                if sample is None or sample[:2] != (k, seed):
                    sample = (k, seed, sample_k_shot(dataset, k, seed, label_column=label_column))
                train = sample[2]
                row = _one_run(methods[name], train, seed, eval_texts, eval_labels)
                if count_flops and seed == seed_list[0]:
                    row.update(_flops(methods[name], train, seed, eval_texts[:flops_sample]))
                row = {"dataset": dataset_name, "method": name, "k": k, "seed": seed, **row}
                logger.info("%s %s k=%d seed=%d accuracy=%.4f train=%.1fs", dataset_name, name, k, seed,
                            row["accuracy"], row["train_seconds"])
                if table is not None:
                    table.append(row)
                rows.append(row)
        if table is None:
            return _table(rows)
        runs = table.load()[RUN_COLUMNS]
        _write_report(runs, Path(output_dir))
    return runs


def _write_report(runs: pd.DataFrame, folder: Path) -> pd.DataFrame:
    summary = _summary(runs)
    write_parquet(folder / "summary.parquet", summary.reset_index())
    save_figure(folder / "accuracy_vs_k.png", _plot_accuracy_vs_k(summary))
    return summary


def _shared_columns(methods: Mapping[str, FewShotClassifier]) -> tuple[str, str]:
    for name, method in methods.items():
        if not isinstance(method, FewShotClassifier):
            raise TypeError(f"methods[{name!r}] is a {type(method).__name__}; run_benchmark takes few-shot "
                            "classifiers such as greennlp.fewshot.LinearProbe(...).")
    columns = {(method.text_column, method.label_column) for method in methods.values()}
    if len(columns) > 1:
        raise ValueError(f"The methods read different (text_column, label_column) pairs {sorted(columns)}; the "
                         "benchmark samples and evaluates one dataset, so give every method the same columns.")
    return columns.pop()


def _eval_labels(dataset: Dataset, eval_dataset: Dataset, label_column: str) -> np.ndarray:
    """The evaluation labels, refused unless they are integer class ids among the training set's: predictions
    are training ids, so string labels (or ids of another mapping) would score 0.0 without a word."""
    if len(eval_dataset) == 0:
        raise ValueError("eval_dataset is empty: the protocol reports accuracy on a held-out set with examples.")
    labels = list(eval_dataset[label_column])
    values = np.asarray(labels)
    if values.dtype.kind not in "iu":
        found = sorted({repr(v) for v in labels if not isinstance(v, (int, np.integer)) or isinstance(v, bool)})
        raise ValueError(
            f"eval_dataset's column {label_column!r} must hold integer class ids, as the training set and the "
            f"predictions do; found {', '.join(found[:3])} ({values.dtype} values). Encode them with the training "
            f"set's ids, e.g. eval_dataset.cast_column({label_column!r}, dataset.features[{label_column!r}]) when "
            f"the training labels are a ClassLabel, or eval_dataset.map(...) with the same mapping; rows without a "
            f"label: eval_dataset.filter(...).")
    if label_column in dataset.column_names:
        train_classes = {label for label in dataset.unique(label_column) if isinstance(label, (int, np.integer))}
        unknown = sorted(set(values.tolist()) - train_classes)
        if train_classes and unknown:
            raise ValueError(
                f"eval_dataset's column {label_column!r} has labels {unknown[:5]} that no training example has "
                f"(training labels: {sorted(train_classes)[:10]}): both sets must use the same class ids.")
    return values


def _fresh(method: FewShotClassifier, seed: int) -> FewShotClassifier:
    """A new, unfitted copy of ``method`` with the same parameters and ``seed``."""
    return clone(method).set_params(seed=seed)


def _one_run(template: FewShotClassifier, train: Dataset, seed: int, texts: list[str], labels: np.ndarray) -> dict:
    model = _fresh(template, seed)
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(train)
    train_seconds, train_cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    start = time.perf_counter()
    predictions = np.asarray(model.predict(texts))
    inference_seconds = time.perf_counter() - start
    row = {
        "accuracy": float(correctness(predictions, labels).mean()),
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu_seconds,
        "inference_seconds_per_1k": 1000 * inference_seconds / max(len(texts), 1),
        "trainable_parameters": int(model.num_trainable_parameters_),
        "train_flops": np.nan,
        "inference_flops_per_1k": np.nan,
        "n_train": len(train),
        "n_eval": len(texts),
    }
    del model
    gc.collect()
    return row


def _flops(template: FewShotClassifier, train: Dataset, seed: int, texts: list[str]) -> dict:
    model = _fresh(template, seed)
    with flop_counter() as counter:
        model.fit(train)
    train_flops = counter.get_total_flops()
    with flop_counter() as counter:
        model.predict(texts)
    inference = 1000 * counter.get_total_flops() / max(len(texts), 1)
    del model
    gc.collect()
    return {"train_flops": float(train_flops), "inference_flops_per_1k": float(inference)}


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def summarize_benchmark(runs: pd.DataFrame, *, output_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Mean ± std over seeds per dataset, method and K (std with ``ddof=0``, as ``numpy.std``), plus the mean
    price tag: one row per ``(dataset, method, k)``.

    With ``output_dir``, also writes ``runs`` as ``runs.parquet``, the summary as ``summary.parquet`` and the plot
    of mean accuracy against K (one panel per dataset, one line per method, ± std bars) as ``accuracy_vs_k.png``,
    atomically, holding the folder for this process while it writes: what :func:`run_benchmark` writes at its
    end, for runs merged from several benchmarks (``pd.concat`` of their tables).

    Examples
    --------
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"dataset": "sst2", "method": "probe", "k": 8, "seed": [0, 1], "accuracy": [0.7, 0.8],
    ...                      "train_seconds": 1.0, "train_cpu_seconds": 1.0, "inference_seconds_per_1k": 2.0,
    ...                      "trainable_parameters": 770, "train_flops": float("nan"),
    ...                      "inference_flops_per_1k": float("nan")})
    >>> summarize_benchmark(runs)[["accuracy_mean", "accuracy_std", "seeds"]].round(3)
                         accuracy_mean  accuracy_std  seeds
    dataset method k
    sst2    probe  8            0.75          0.05      2
    """
    if output_dir is None:
        return _summary(runs)
    with exclusive_folder(output_dir, "fewshot.summarize_benchmark") as folder:
        write_parquet(folder / RUNS_FILE, runs)
        return _write_report(runs, folder)


def _summary(runs: pd.DataFrame) -> pd.DataFrame:
    grouped = runs.groupby(["dataset", "method", "k"], sort=False)
    return grouped.agg(
        accuracy_mean=("accuracy", "mean"),
        accuracy_std=("accuracy", population_std),
        seeds=("seed", "count"),
        train_seconds=("train_seconds", "mean"),
        train_cpu_seconds=("train_cpu_seconds", "mean"),
        inference_seconds_per_1k=("inference_seconds_per_1k", "mean"),
        trainable_parameters=("trainable_parameters", "max"),
        train_flops=("train_flops", "max"),
        inference_flops_per_1k=("inference_flops_per_1k", "max"),
    )


def _plot_accuracy_vs_k(summary: pd.DataFrame):
    """One panel per dataset: mean accuracy vs K (log scale) with ± std error bars, one line per method, from a
    :func:`summarize_benchmark` table; a ``matplotlib.figure.Figure`` built without pyplot (nothing global)."""
    from matplotlib.figure import Figure

    summary = summary.reset_index()
    datasets = list(dict.fromkeys(summary["dataset"]))
    figure = Figure(figsize=(5 * len(datasets), 4), layout="tight")
    axes = figure.subplots(1, len(datasets), squeeze=False)
    for axis, name in zip(axes[0], datasets, strict=True):
        part = summary[summary["dataset"] == name]
        for method, rows in part.groupby("method", sort=False):
            axis.errorbar(rows["k"], rows["accuracy_mean"], yerr=rows["accuracy_std"], marker="o", capsize=3,
                          label=method)
        axis.set_xscale("log", base=2)
        axis.set_xticks(sorted(part["k"].unique()), labels=[str(k) for k in sorted(part["k"].unique())])
        axis.set_xlabel("K (examples per class)")
        axis.set_ylabel("accuracy")
        axis.set_title(name or "few-shot")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return figure
