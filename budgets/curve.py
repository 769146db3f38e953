"""Data-budget curves: train the same model on subsets chosen by several strategies (random, data-map regions,
any selector) at several fractions and seeds; record accuracy on each eval set beside each run's price tag in
a Parquet table that makes the experiment resumable; plot accuracy against data and against compute."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from datasets import Dataset
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from greennlp._files import exclusive_folder, remove_stale_temporaries, save_figure
from greennlp._results import ResultsTable, population_std
from greennlp._seeding import seeded_rng
from greennlp.datamaps import DataMap
from greennlp.datamaps.regions import no_regions_message
from greennlp.encoders import accuracy, fine_tune
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
#: Price-tag fields copied into each row of the table, under the ``PriceTag`` names.
PRICE_TAG_COLUMNS = ("train_flops", "wall_time_s", "optimizer_steps", "examples_seen", "tokens_seen",
                     "peak_memory_mb", "energy_kwh", "co2e_kg", "energy_method")
# A strategy name becomes part of a folder name: one path component, no separators, no leading dot.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
# Settings that BudgetCurve sets per run itself.
_RESERVED_SETTINGS = ("seed", "data_seed", "output_dir")
#: Columns of the table holding what made each row (JSON, and the strategy's selector): a rerun is compared with
#: them, so that one table never mixes the results of two configurations.
CONFIGURATION, SELECTION = "configuration", "selection"


class BudgetCurve:
    """Accuracy against data budget and compute, for several subset-selection strategies.

    Every run trains through :func:`greennlp.encoders.fine_tune` (the project's one fine-tuning path, with its
    linear warm-up) and is evaluated with :func:`greennlp.encoders.accuracy` (the one accuracy), so a curve's
    numbers compare with every other result of the toolkit.

    Parameters
    ----------
    model_init:
        ``model_init()`` returns a fresh model; it is called once per run, with torch's RNG seeded by the
        run's seed (the caller's RNG state is restored afterwards).
    train_dataset:
        Raw training set with a text and an integer label column (tokenized per run by ``fine_tune``); the
        data map (when used) must describe it.
    eval_datasets:
        ``{name: raw dataset}``; each run reports ``accuracy_<name>`` (e.g. ``dev``, ``imdb``, ``cr``).
    output_dir:
        Holds ``budget_curve.parquet`` (one row per finished run), each run's ``price_tag.json`` and plots.
        One ``BudgetCurve`` writes into a folder at a time (a second one fails at once).
    tokenizer:
        Tokenizes the texts; its pad id pads the batches unless ``data_collator`` is given.
    strategies:
        Names (``"random"``, ``"ambiguous"``, ``"easy"``, ``"hard"``) and/or selectors, as a sequence or a
        ``{name: name_or_selector}`` dict. A selector is ``selector(dataset, fraction, seed) -> Dataset``.
        Names become folder names: letters, digits, ``.``, ``_``, ``+`` and ``-``, not starting with a dot.
    fractions:
        Data fractions in (0, 1]. Fraction 1.0 is the same data for every strategy and is trained once per
        seed, recorded as strategy ``"full"``.
    seeds:
        Each seed sets the subset (for random selection and ties), the model initialisation and the data order.
    data_map:
        A ``greennlp.datamaps.DataMap`` of ``train_dataset``; needed by region strategies.
    data_collator:
        Batch collator passed to ``fine_tune`` (default: its padding collator).
    training_args:
        Overrides passed to :func:`greennlp.encoders.fine_tune` (``TrainingArguments`` names such as
        ``num_train_epochs``, ``learning_rate``, ``warmup_steps``; they win over ``fine_tune``'s defaults).
        ``seed`` is set per run from ``seeds`` and cannot be overridden.
    text_column, label_column, max_length:
        Columns of the datasets, and the truncation length.
    flop_steps, use_codecarbon:
        Passed to each run's :class:`BudgetCallback`.
    progress:
        Show a progress bar over the runs.
    resume:
        ``True`` (the default): keep the finished runs in ``output_dir`` and train only the missing ones. Every row
        stores the configuration that made it (``training_args``, the eval sets' names and contents, the training
        set's contents, the columns, ``max_length``, the collator, the tokenizer and the strategy's selector),
        and a table made with another configuration is refused before anything trains, with the differences
        named. ``model_init`` is code and is not compared: give another model another ``output_dir``. ``False``:
        start a new table, in which every planned run trains again.

    Attributes
    ----------
    results_ : pandas.DataFrame
        Every finished run (this call's and earlier ones'), after :meth:`run`. Its cost columns carry the
        :class:`PriceTag` field names (``train_flops``, ``wall_time_s``, ``tokens_seen``, ...).

    Examples
    --------
    >>> curve = BudgetCurve(lambda: load_encoder("tiny", tokenizer=tok), train, {"dev": dev}, "runs/curve",
    ...                     tokenizer=tok, data_map=DataMap.load("maps/sst2"))        # doctest: +SKIP
    >>> curve.run(); curve.plot("runs/curve/curve.png")                              # doctest: +SKIP

    A curve small enough to run here: random halves against the full set, one seed, one epoch per run. Each run
    prints its price tag.

    >>> import tempfile
    >>> from greennlp.encoders import load_encoder, train_wordpiece_tokenizer
    >>> train = Dataset.from_dict({"text": [f"a {word} film" for word in ("good", "great", "bad", "dull")] * 4,
    ...                            "label": [1, 1, 0, 0] * 4})
    >>> dev = Dataset.from_dict({"text": ["a good film", "a dull film"], "label": [1, 0]})
    >>> tok = train_wordpiece_tokenizer(train["text"], vocab_size=100)
    >>> folder = tempfile.TemporaryDirectory()
    >>> curve = BudgetCurve(lambda: load_encoder("tiny", tokenizer=tok), train, {"dev": dev}, folder.name,
    ...                     tokenizer=tok, strategies=["random"], fractions=[0.5, 1.0], progress=False,
    ...                     training_args={"num_train_epochs": 1, "per_device_train_batch_size": 8})
    >>> results = curve.run()
    BudgetCallback: price tag of 'random-0.5-seed0' ...
    BudgetCallback: price tag of 'full-1-seed0' ...
    >>> results[["strategy", "fraction", "n_train", "optimizer_steps"]]
      strategy  fraction  n_train  optimizer_steps
    0   random       0.5        8                1
    1     full       1.0       16                2
    >>> [column for column in results.columns if column.startswith("accuracy_")]
    ['accuracy_dev']
    >>> figure = curve.plot(f"{folder.name}/curve.png")
    >>> folder.cleanup()
    """

    def __init__(
        self,
        model_init: Callable[[], PreTrainedModel],
        train_dataset: Dataset,
        eval_datasets: Mapping[str, Dataset],
        output_dir: str | os.PathLike,
        *,
        tokenizer: PreTrainedTokenizerBase,
        strategies: Sequence[str | Selector] | Mapping[str, str | Selector] = ("random", "ambiguous", "easy", "hard"),
        fractions: Sequence[float] = (0.1, 0.25, 0.33, 0.5, 1.0),
        seeds: Sequence[int] = (0,),
        data_map: DataMap | None = None,
        data_collator: Callable | None = None,
        training_args: Mapping[str, Any] | None = None,
        text_column: str = "text",
        label_column: str = "label",
        max_length: int = 128,
        flop_steps: int = 2,
        use_codecarbon: bool | None = None,
        progress: bool = True,
        resume: bool = True,
    ) -> None:
        self.model_init = model_init
        self.train_dataset = train_dataset
        self.eval_datasets = eval_datasets
        self.output_dir = output_dir
        self.tokenizer = tokenizer
        self.strategies = strategies
        self.fractions = fractions
        self.seeds = seeds
        self.data_map = data_map
        self.data_collator = data_collator
        self.training_args = training_args
        self.text_column = text_column
        self.label_column = label_column
        self.max_length = max_length
        self.flop_steps = flop_steps
        self.use_codecarbon = use_codecarbon
        self.progress = progress
        self.resume = resume

    # -- configuration --------------------------------------------------------------------------------
    def selectors(self) -> dict[str, Selector]:
        """``{strategy name: selector}`` for the configured strategies; raises a clear error for bad names."""
        return {name: selector for name, (selector, _) in self._strategies().items()}

    def _strategies(self) -> dict[str, tuple[Selector, str]]:
        """``{name: (selector, what it selects)}``; the description is stored with each row of the table."""
        items = self.strategies.items() if isinstance(self.strategies, Mapping) else [
            (s if isinstance(s, str) else getattr(s, "__name__", repr(s)), s) for s in self.strategies]
        selectors: dict[str, tuple[Selector, str]] = {}
        for name, strategy in items:
            if name == FULL:
                raise ValueError(f"Strategy name {FULL!r} is reserved for the fraction-1.0 runs; rename it.")
            if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name):
                raise ValueError(
                    f"Strategy name {name!r} cannot name a run folder: use letters, digits, '.', '_', '+' and '-', "
                    "not starting with '.' (no path separators). Name selectors with a {name: selector} dict.")
            if name in selectors:
                raise ValueError(f"Two strategies are named {name!r}; give them distinct names with a "
                                 "{name: selector} dict.")
            if callable(strategy):
                selectors[name] = (strategy, f"selector {_qualified_name(strategy)}")
            elif strategy == "random":
                selectors[name] = (_select_random, "random")
            elif strategy in REGION_STRATEGIES:
                if self.data_map is None:
                    raise ValueError(f"Strategy {strategy!r} selects a data-map region: pass data_map=DataMap.load(...) "
                                     "recorded on this train_dataset, or use 'random' or a selector callable.")
                reason = no_regions_message(self.data_map.table)
                if reason is not None:  # refuse before any run trains, not when this strategy's turn comes
                    raise ValueError(f"Strategy {strategy!r} selects a data-map region, but this map has no regions: "
                                     f"{reason}.")
                selectors[name] = (functools.partial(_select_region, data_map=self.data_map,
                                                     region=REGION_STRATEGIES[strategy]),
                                   f"region {REGION_STRATEGIES[strategy]} of the data map {_digest(self.data_map.table)}")
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
        names = list(self.selectors())
        runs = [(name, f, int(s)) for s in self.seeds for f in fractions if f < 1.0 for name in names]
        runs += [(FULL, 1.0, int(s)) for s in self.seeds if 1.0 in fractions]
        return runs

    def _check(self) -> None:
        reserved = sorted(set(self.training_args or {}) & set(_RESERVED_SETTINGS))
        if reserved:
            raise ValueError(f"training_args sets {reserved}: BudgetCurve sets these per run (seeds=, output_dir=).")
        named = {"train_dataset": self.train_dataset, **{f"eval_datasets[{k!r}]": v for k, v in self.eval_datasets.items()}}
        for name, dataset in named.items():
            missing = [c for c in (self.text_column, self.label_column) if c not in dataset.column_names]
            if missing:
                raise ValueError(
                    f"{name} lacks the columns {missing} (it has {dataset.column_names}). BudgetCurve takes raw "
                    "datasets with a text and a label column and tokenizes them itself (encoders.fine_tune); pass "
                    "text_column= / label_column=, or the datasets from before tokenize_dataset.")

    def _configuration(self) -> dict[str, Any]:
        """What every run's result depends on besides its strategy, fraction and seed (and ``model_init``)."""
        tokenizer = self.tokenizer
        columns = [self.text_column, self.label_column]
        return _plain({
            "training_args": dict(self.training_args or {}),
            "train_dataset": _dataset_digest(self.train_dataset, columns),
            "eval_datasets": {name: _dataset_digest(dataset, columns) for name, dataset in self.eval_datasets.items()},
            "text_column": self.text_column,
            "label_column": self.label_column,
            "max_length": self.max_length,
            "data_collator": None if self.data_collator is None else _qualified_name(self.data_collator),
            "tokenizer": None if tokenizer is None else (f"{type(tokenizer).__name__} "
                                                         f"{getattr(tokenizer, 'name_or_path', '')!r}, "
                                                         f"{len(tokenizer)} tokens"),
        })

    def _refuse_another_configuration(self, table: pd.DataFrame, configuration: dict[str, Any],
                                      selections: dict[str, str]) -> None:
        """Raise when a finished run in ``table`` was made with another configuration than this one."""
        if table.empty:
            return
        fix = ("Pass resume=False to start a new table (every run trains again), use another output_dir, or "
               "restore the configuration that made it.")
        if any(c not in table for c in (CONFIGURATION, SELECTION)) or table[[CONFIGURATION, SELECTION]].isna().any(axis=None):
            raise ValueError(f"{self.table_path} holds {len(table)} finished runs with no stored configuration "
                             f"(written before BudgetCurve stored it), so whether they match this one cannot be "
                             f"told. {fix}")
        differences: list[str] = []
        changed = 0
        for stored in table[CONFIGURATION].unique():
            found = _differences(json.loads(stored), configuration)
            if found:
                changed += int((table[CONFIGURATION] == stored).sum())
                differences += [d for d in found if d not in differences]
        for strategy, selection in table[["strategy", SELECTION]].drop_duplicates().itertuples(index=False):
            if strategy in selections and selection != selections[strategy]:
                changed += int(((table["strategy"] == strategy) & (table[SELECTION] == selection)).sum())
                differences.append(f"strategy {strategy!r}: {selection} -> {selections[strategy]}")
        if changed:
            shown = "; ".join(differences[:6]) + ("; ..." if len(differences) > 6 else "")
            raise ValueError(
                f"{self.table_path} holds {changed} run{'s' if changed != 1 else ''} made with another configuration "
                f"({shown}). Resuming would mix the results of two configurations in one table. {fix}"
            )

    # -- running --------------------------------------------------------------------------------------
    @property
    def table_path(self) -> Path:
        return Path(self.output_dir) / TABLE_FILE

    def _table(self) -> ResultsTable:
        return ResultsTable(self.table_path, key=KEY, writer="BudgetCurve", required=["n_train"])

    def load_results(self) -> pd.DataFrame:
        """The finished runs recorded in ``output_dir`` (empty when none)."""
        return self._table().load()

    def run(self) -> pd.DataFrame:
        """Train and evaluate every planned run not already in the table; returns all finished runs.

        The table gets a row after every run (a crash loses at most the run in progress), and a rerun skips
        every ``(strategy, fraction, seed)`` already in it, provided the table was made with this configuration
        (``ValueError`` otherwise, before anything trains; see ``resume``).
        """
        planned = self.planned_runs()
        strategies = self._strategies()
        self._check()
        configuration = self._configuration()
        selections = {name: description for name, (_, description) in strategies.items()}
        selections[FULL] = "all of train_dataset"
        with exclusive_folder(self.output_dir, owner="BudgetCurve"):
            remove_stale_temporaries(self.output_dir)  # left by a killed run; this process alone writes here now
            table = self._table()
            if self.resume:
                self._refuse_another_configuration(table.load(), configuration, selections)
            elif self.table_path.exists():
                table.replace(pd.DataFrame(columns=table.required))
            done = table.done()
            todo = [run for run in planned if run not in done]
            logger.info("BudgetCurve: %d planned runs, %d already finished, %d to train.", len(planned),
                        len(planned) - len(todo), len(todo))
            for strategy, fraction, seed in tqdm(todo, desc="BudgetCurve", unit="run", disable=not self.progress):
                subset = (self.train_dataset if strategy == FULL
                          else strategies[strategy][0](self.train_dataset, fraction, seed))
                row = self._train_one(strategy, fraction, seed, subset)
                row[CONFIGURATION] = json.dumps(configuration, sort_keys=True)
                row[SELECTION] = selections[strategy]
                table.append(row)
            self.results_ = table.load()
        return self.results_

    def _train_one(self, strategy: str, fraction: float, seed: int, subset: Dataset) -> dict[str, Any]:
        name = f"{strategy}-{fraction:g}-seed{seed}"
        run_dir = Path(self.output_dir) / "runs" / name
        budget = BudgetCallback(output_dir=run_dir, run_name=name, flop_steps=self.flop_steps,
                                use_codecarbon=self.use_codecarbon)
        with seeded_rng(seed):
            model = self.model_init()
        try:
            trainer = fine_tune(model, self.tokenizer, subset, run_dir, seed=seed, callbacks=[budget],
                                collator=self.data_collator, text_column=self.text_column,
                                label_column=self.label_column, max_length=self.max_length,
                                **(self.training_args or {}))
        finally:  # a step that raised sends the callback no event: take its FLOP counter off torch here
            budget._release()
        row: dict[str, Any] = {"strategy": strategy, "fraction": fraction, "seed": seed, "n_train": len(subset)}
        tag = budget.price_tag_
        for eval_name, dataset in self.eval_datasets.items():
            row[f"accuracy_{eval_name}"] = accuracy(trainer.model, self.tokenizer, dataset, text_column=self.text_column,
                                                    label_column=self.label_column, max_length=self.max_length)
            tag.metrics[f"accuracy_{eval_name}"] = row[f"accuracy_{eval_name}"]
        tag.save(run_dir)
        row.update({column: getattr(tag, column) for column in PRICE_TAG_COLUMNS})
        row["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        logger.info("BudgetCurve %s: %s", name, {k: v for k, v in row.items() if k.startswith("accuracy_")})
        return row

    # -- analysis -------------------------------------------------------------------------------------
    def summary(self, results: pd.DataFrame | None = None) -> pd.DataFrame:
        """Mean and std over seeds of every accuracy and of the cost, per strategy and fraction.

        The std is the population std (``ddof=0``, as ``numpy.std``), the convention of the whole toolkit
        (``fewshot`` summaries, data-map ``variability``): one seed gives 0, not NaN.
        """
        results = self.load_results() if results is None else results
        if results.empty:
            raise ValueError(f"No finished runs in {str(self.table_path)!r}; call run() first.")
        if "train_time_s" in results and "wall_time_s" not in results:  # tables written by greennlp 0.1
            results = results.rename(columns={"train_time_s": "wall_time_s"})
        metrics = [c for c in results.columns if c.startswith("accuracy_")] + ["train_flops", "wall_time_s"]
        grouped = results.groupby(["strategy", "fraction"])[metrics]
        summary = grouped.agg(["mean", population_std])
        summary.columns = [f"{metric}_{'mean' if stat == 'mean' else 'std'}" for metric, stat in summary.columns]
        summary["runs"] = results.groupby(["strategy", "fraction"]).size()
        return summary.reset_index()

    def plot(self, path: str | os.PathLike | None = None, *, results: pd.DataFrame | None = None):
        """Accuracy vs data fraction and vs train FLOPs (mean +- std over seeds), one row per eval set.

        The fraction-1.0 run (``"full"``) ends every strategy's line. Returns a ``matplotlib.figure.Figure``
        (no pyplot state), saved to ``path`` (PNG/SVG) when given.
        """
        from matplotlib.figure import Figure

        summary = self.summary(results)
        eval_names = [c[len("accuracy_"):-len("_mean")] for c in summary.columns
                      if c.startswith("accuracy_") and c.endswith("_mean")]
        figure = Figure(figsize=(10, 3.6 * len(eval_names)))
        axes = figure.subplots(len(eval_names), 2, squeeze=False)
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


def _select_random(dataset: Dataset, fraction: float, seed: int) -> Dataset:
    return select_random(dataset, fraction=fraction, seed=seed)


def _select_region(dataset: Dataset, fraction: float, seed: int, data_map: DataMap, region: str) -> Dataset:
    return select_by_region(dataset, data_map, region, fraction=fraction, seed=seed)


def _qualified_name(thing: Any) -> str:
    """``module.name`` of a function or of an object's class: what a selector or collator is, across processes."""
    named = thing if hasattr(thing, "__qualname__") else type(thing)
    return f"{getattr(named, '__module__', '?')}.{named.__qualname__}"


def _digest(frame: pd.DataFrame) -> str:
    """A short content hash of a DataFrame, the same in every process."""
    try:
        hashes = pd.util.hash_pandas_object(frame, index=True)
    except TypeError:  # unhashable cells (lists): hash their text
        hashes = pd.util.hash_pandas_object(frame.astype(str), index=True)
    return hashlib.sha256(hashes.to_numpy().tobytes()).hexdigest()[:16]


def _dataset_digest(dataset: Dataset, columns: Sequence[str]) -> str:
    frame = dataset.select_columns(list(columns)).to_pandas()
    return f"{len(dataset)} rows, content {_digest(frame.reset_index(drop=True))}"


def _plain(value: Any) -> Any:
    """``value`` as JSON would give it back (whole floats as ints, so ``1.0`` and ``1`` epochs compare equal)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``"name: old -> new"`` for every setting that differs, one level into dicts (``training_args``, eval sets)."""
    found = []
    for key in dict.fromkeys([*stored, *current]):
        old, new = stored.get(key, "(not set)"), current.get(key, "(not set)")
        if isinstance(old, dict) and isinstance(new, dict):
            found += [f"{key}[{sub!r}]: {old.get(sub, '(not set)')} -> {new.get(sub, '(not set)')}"
                      for sub in dict.fromkeys([*old, *new]) if old.get(sub, "(not set)") != new.get(sub, "(not set)")]
        elif old != new:
            found.append(f"{key}: {old} -> {new}")
    return found
