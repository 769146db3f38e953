"""Data-budget curves: train the same model on subsets chosen by several strategies (random, data-map regions,
any selector) at several fractions and seeds; record accuracy on each eval set beside each run's price tag in
a Parquet table that makes the experiment resumable; plot accuracy against data and against compute."""
from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from datasets import Dataset
from transformers import DataCollatorWithPadding, PreTrainedModel, PreTrainedTokenizerBase, Trainer

from greennlp._files import save_figure, write_parquet
from greennlp.datamaps import DataMap
from greennlp.encoders import efficient_training_args
from greennlp.filters import select_by_region, select_random

from .callback import BudgetCallback

logger = logging.getLogger(__name__)

#: A selector keeps ``fraction`` of ``dataset``, reproducibly for ``seed``: ``selector(dataset, fraction, seed)``.
Selector = Callable[[Dataset, float, int], Dataset]

#: Strategy names understood without a callable, and the data-map region each one selects.
REGION_STRATEGIES = {"ambiguous": "ambiguous", "easy": "easy-to-learn", "hard": "hard-to-learn",
                     "easy-to-learn": "easy-to-learn", "hard-to-learn": "hard-to-learn"}
NAMED_STRATEGIES = ("random", *REGION_STRATEGIES)
#: Strategy recorded for fraction 1.0, where every strategy keeps all the data (trained once per seed).
FULL = "full"
TABLE_FILE = "budget_curve.parquet"
KEY = ["strategy", "fraction", "seed"]


def _accuracy(eval_prediction) -> dict[str, float]:
    logits, labels = eval_prediction
    logits = logits[0] if isinstance(logits, tuple) else logits
    return {"accuracy": float((np.asarray(logits).argmax(-1) == np.asarray(labels)).mean())}


class BudgetCurve:
    """Accuracy against data budget and compute, for several subset-selection strategies.

    Parameters
    ----------
    model_init:
        ``model_init()`` returns a fresh model (as for ``Trainer(model_init=...)``; the Trainer seeds it).
    train_dataset:
        Tokenized training set with labels; the data map (when used) must describe it.
    eval_datasets:
        ``{name: tokenized dataset}``; each run reports ``accuracy_<name>`` (e.g. ``dev``, ``imdb``, ``cr``).
    output_dir:
        Holds ``budget_curve.parquet`` (one row per finished run), each run's ``price_tag.json`` and plots.
    strategies:
        Names (``"random"``, ``"ambiguous"``, ``"easy"``, ``"hard"``) and/or selectors, as a sequence or a
        ``{name: name_or_selector}`` dict. A selector is ``selector(dataset, fraction, seed) -> Dataset``.
    fractions:
        Data fractions in (0, 1]. Fraction 1.0 is the same data for every strategy and is trained once per
        seed, recorded as strategy ``"full"``.
    seeds:
        Each seed sets the subset (for random selection and ties) and the model initialisation and order.
    data_map:
        A ``datamaps.DataMap`` of ``train_dataset``; needed by region strategies.
    tokenizer, data_collator:
        The collator, or a tokenizer for ``DataCollatorWithPadding``; neither: the Trainer's default.
    training_args:
        Overrides for :func:`encoders.efficient_training_args` (e.g. ``num_train_epochs``, ``learning_rate``).
    flop_steps, use_codecarbon:
        Passed to each run's :class:`BudgetCallback`.

    Attributes
    ----------
    results_ : pandas.DataFrame
        Every finished run (this call's and earlier ones'), after :meth:`run`.

    Examples
    --------
    >>> curve = BudgetCurve(lambda: load_encoder("tiny", tokenizer=tok), train, {"dev": dev}, "runs/curve",
    ...                     data_map=DataMap.load("maps/sst2"), tokenizer=tok)          # doctest: +SKIP
    >>> curve.run(); curve.plot("runs/curve/curve.png")                              # doctest: +SKIP
    """

    def __init__(
        self,
        model_init: Callable[[], PreTrainedModel],
        train_dataset: Dataset,
        eval_datasets: Mapping[str, Dataset],
        output_dir: str | os.PathLike,
        strategies: Sequence[str | Selector] | Mapping[str, str | Selector] = ("random", "ambiguous", "easy", "hard"),
        fractions: Sequence[float] = (0.1, 0.25, 0.33, 0.5, 1.0),
        seeds: Sequence[int] = (0,),
        data_map: DataMap | None = None,
        tokenizer: PreTrainedTokenizerBase | None = None,
        data_collator: Callable | None = None,
        training_args: Mapping[str, Any] | None = None,
        flop_steps: int = 2,
        use_codecarbon: bool | None = None,
    ) -> None:
        self.model_init = model_init
        self.train_dataset = train_dataset
        self.eval_datasets = eval_datasets
        self.output_dir = output_dir
        self.strategies = strategies
        self.fractions = fractions
        self.seeds = seeds
        self.data_map = data_map
        self.tokenizer = tokenizer
        self.data_collator = data_collator
        self.training_args = training_args
        self.flop_steps = flop_steps
        self.use_codecarbon = use_codecarbon

    # -- configuration --------------------------------------------------------------------------------
    def selectors(self) -> dict[str, Selector]:
        """``{strategy name: selector}`` for the configured strategies; raises a clear error for bad names."""
        items = self.strategies.items() if isinstance(self.strategies, Mapping) else [
            (s if isinstance(s, str) else getattr(s, "__name__", repr(s)), s) for s in self.strategies]
        selectors: dict[str, Selector] = {}
        for name, strategy in items:
            if name == FULL:
                raise ValueError(f"Strategy name {FULL!r} is reserved for the fraction-1.0 runs; rename it.")
            if callable(strategy):
                selectors[name] = strategy
            elif strategy == "random":
                selectors[name] = lambda dataset, fraction, seed: select_random(dataset, fraction, seed=seed)
            elif strategy in REGION_STRATEGIES:
                if self.data_map is None:
                    raise ValueError(f"Strategy {strategy!r} selects a data-map region: pass data_map=DataMap.load(...) "
                                     "recorded on this train_dataset, or use 'random' or a selector callable.")
                selectors[name] = functools.partial(_select_region, data_map=self.data_map,
                                                    region=REGION_STRATEGIES[strategy])
            else:
                raise ValueError(f"Unknown strategy {strategy!r}; choose from {list(NAMED_STRATEGIES)} or pass a "
                                 "callable selector(dataset, fraction, seed) -> Dataset (e.g. from `filters`).")
        if not selectors:
            raise ValueError("BudgetCurve needs at least one strategy.")
        return selectors

    def planned_runs(self) -> list[tuple[str, float, int]]:
        """Every ``(strategy, fraction, seed)`` the configuration asks for (fraction 1.0 once per seed)."""
        fractions = [float(f) for f in self.fractions]
        bad = [f for f in fractions if not 0 < f <= 1]
        if bad or not fractions:
            raise ValueError(f"fractions must be in (0, 1]; got {list(self.fractions)}.")
        if not self.eval_datasets:
            raise ValueError("BudgetCurve needs at least one eval set: eval_datasets={'dev': dev_dataset}.")
        runs = [(name, f, int(s)) for s in self.seeds for f in fractions if f < 1.0 for name in self.selectors()]
        runs += [(FULL, 1.0, int(s)) for s in self.seeds if 1.0 in fractions]
        return runs

    # -- running --------------------------------------------------------------------------------------
    @property
    def table_path(self) -> Path:
        return Path(self.output_dir) / TABLE_FILE

    def load_results(self) -> pd.DataFrame:
        """The finished runs recorded in ``output_dir`` (empty when none)."""
        if self.table_path.is_file():
            return pd.read_parquet(self.table_path)
        return pd.DataFrame(columns=KEY)

    def run(self) -> pd.DataFrame:
        """Train and evaluate every planned run not already in the table; returns all finished runs."""
        planned = self.planned_runs()
        selectors = self.selectors()
        results = self.load_results()
        done = {(r.strategy, float(r.fraction), int(r.seed)) for r in results[KEY].itertuples()}
        todo = [run for run in planned if run not in done]
        logger.info("BudgetCurve: %d planned runs, %d already finished, %d to train.", len(planned),
                    len(planned) - len(todo), len(todo))
        for strategy, fraction, seed in todo:
            subset = self.train_dataset if strategy == FULL else selectors[strategy](self.train_dataset, fraction, seed)
            row = self._train_one(strategy, fraction, seed, subset)
            results = pd.concat([results, pd.DataFrame([row])], ignore_index=True) if len(results) else pd.DataFrame([row])
            write_parquet(self.table_path, results)  # after every run: a crash loses at most the run in progress
        self.results_ = results
        return results

    def _train_one(self, strategy: str, fraction: float, seed: int, subset: Dataset) -> dict[str, Any]:
        name = f"{strategy}-{fraction:g}-seed{seed}"
        run_dir = Path(self.output_dir) / "runs" / name
        settings = {"seed": seed, "logging_strategy": "no", "disable_tqdm": True, **(self.training_args or {})}
        args = efficient_training_args(str(run_dir), **settings)
        collator = self.data_collator or (DataCollatorWithPadding(self.tokenizer) if self.tokenizer else None)
        budget = BudgetCallback(output_dir=run_dir, run_name=name, flop_steps=self.flop_steps,
                                use_codecarbon=self.use_codecarbon)
        trainer = Trainer(model_init=self.model_init, args=args, train_dataset=subset, data_collator=collator,
                          compute_metrics=_accuracy, callbacks=[budget])
        start = time.perf_counter()
        trainer.train()
        row: dict[str, Any] = {"strategy": strategy, "fraction": fraction, "seed": seed, "n_train": len(subset)}
        for eval_name, dataset in self.eval_datasets.items():
            metrics = trainer.evaluate(eval_dataset=dataset, metric_key_prefix=eval_name)
            row[f"accuracy_{eval_name}"] = float(metrics[f"{eval_name}_accuracy"])
        tag = budget.price_tag_
        row.update(train_flops=tag.train_flops, train_time_s=tag.wall_time_s, run_time_s=time.perf_counter() - start,
                   examples_seen=tag.examples_seen, tokens_seen=tag.tokens_seen, energy_kwh=tag.energy_kwh,
                   co2e_kg=tag.co2e_kg, energy_method=tag.energy_method,
                   finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        logger.info("BudgetCurve %s: %s", name, {k: v for k, v in row.items() if k.startswith("accuracy_")})
        return row

    # -- analysis -------------------------------------------------------------------------------------
    def summary(self, results: pd.DataFrame | None = None) -> pd.DataFrame:
        """Mean and std over seeds of every accuracy and of the cost, per strategy and fraction."""
        results = self.load_results() if results is None else results
        if results.empty:
            raise ValueError(f"No finished runs in {str(self.table_path)!r}; call run() first.")
        metrics = [c for c in results.columns if c.startswith("accuracy_")] + ["train_flops", "train_time_s"]
        summary = results.groupby(["strategy", "fraction"])[metrics].agg(["mean", "std"])
        summary.columns = [f"{metric}_{stat}" for metric, stat in summary.columns]
        summary["runs"] = results.groupby(["strategy", "fraction"]).size()
        return summary.reset_index()

    def plot(self, path: str | os.PathLike | None = None, results: pd.DataFrame | None = None):
        """Accuracy vs data fraction and vs train FLOPs (mean +- std over seeds), one row per eval set.

        The fraction-1.0 run (``"full"``) ends every strategy's line. Saved to ``path`` (PNG/SVG) when given.
        """
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        summary = self.summary(results)
        eval_names = [c[len("accuracy_"):-len("_mean")] for c in summary.columns
                      if c.startswith("accuracy_") and c.endswith("_mean")]
        figure, axes = plt.subplots(len(eval_names), 2, figsize=(10, 3.6 * len(eval_names)), squeeze=False)
        full = summary[summary["strategy"] == FULL]
        for row_axes, eval_name in zip(axes, eval_names, strict=True):
            mean, std = f"accuracy_{eval_name}_mean", f"accuracy_{eval_name}_std"
            for strategy in [s for s in summary["strategy"].unique() if s != FULL]:
                part = pd.concat([summary[summary["strategy"] == strategy], full]).sort_values("fraction")
                for axis, x in zip(row_axes, ("fraction", "train_flops_mean"), strict=True):
                    axis.errorbar(part[x], part[mean], yerr=part[std].fillna(0.0), marker="o", capsize=3,
                                  label=strategy)
            for axis, xlabel in zip(row_axes, ("fraction of training data", "train FLOPs"), strict=True):
                axis.set_xlabel(xlabel)
                axis.set_ylabel(f"accuracy ({eval_name})")
                axis.grid(alpha=0.3)
            row_axes[1].set_xscale("log")
            row_axes[0].legend(fontsize=8)
        figure.tight_layout()
        if path is not None:
            save_figure(path, figure)
        return figure


def _select_region(dataset: Dataset, fraction: float, seed: int, data_map: DataMap, region: str) -> Dataset:
    return select_by_region(dataset, data_map, region, fraction=fraction, seed=seed)
