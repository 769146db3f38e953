"""Data maps with their price: maps that cost a fraction of a full training run (a linear probe on frozen
embeddings, a shallower proxy, the first epoch, a sample extended by nearest neighbours), and cross-fitted maps
whose every example is scored by a model that never trained on it (out-of-sample dynamics, for label errors).

Each returns an ordinary ``DataMap`` (regions, selection, plots and label errors work unchanged) and the
``PriceTag`` of everything it ran. ``train_flops`` of the tag is the whole price of the map: optimizer steps
counted by ``BudgetCallback`` plus the forward passes that embed or score examples outside training steps, priced
from the model's config per example's tokens (``greennlp.inference.flops.early_exit_flops``, no padding); the tag's
``metrics`` keep the two parts apart (``training_flops``, ``forward_flops``).
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback

from greennlp.datamaps import DataMap, DataMapCallback
from greennlp.encoders import embed, fine_tune, load_encoder, load_tokenizer, tokenize_dataset
from greennlp.encoders.data import PaddingCollator
from greennlp.encoders.models import MINIATURE_SIZES
from greennlp.inference import keep_layers
from greennlp.inference.flops import early_exit_flops

from .callback import BudgetCallback
from .price_tag import PriceTag

#: The encoder of every kind when ``model`` is not given.
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
#: Kinds of cheap map, and what each one trains.
KINDS = {
    "probe": "a linear probe on frozen sentence embeddings of the encoder (DataMap.from_probe)",
    "proxy": "the first `layers` layers of the encoder (or a miniature size), fine-tuned for a few epochs",
    "early": "the encoder's first epoch(s), scored `snapshots_per_epoch` times per epoch in eval mode",
    "subsample": "the encoder fine-tuned on a `fraction` of the data, extended to the rest by nearest neighbours",
}
#: Defaults per kind: epochs, learning rate, snapshots per epoch.
_DEFAULTS = {"probe": (10, 1e-3, 1), "proxy": (2, 5e-5, 1), "early": (1, 5e-5, 2), "subsample": (3, 5e-5, 1)}

ModelSpec = str | os.PathLike | Callable[[], PreTrainedModel] | None


def cheap_map(dataset: Dataset, *, kind: str = "probe", model: ModelSpec = None,
              tokenizer: PreTrainedTokenizerBase | None = None, output_dir: str | os.PathLike | None = None,
              epochs: int | None = None, learning_rate: float | None = None, batch_size: int = 32,
              snapshots_per_epoch: int | None = None, layers: int | str = 2, fraction: float = 0.1,
              neighbours: int = 10, embeddings: np.ndarray | None = None, seed: int = 0, text_column: str = "text",
              label_column: str = "label", id_column: str | None = None, num_labels: int | None = None,
              max_length: int = 128, overwrite: bool = False, **training_overrides: Any) -> tuple[DataMap, PriceTag]:
    """A data map of ``dataset`` (raw text and labels) that costs a fraction of a full fine-tuning run, and its price.

    Parameters
    ----------
    dataset : datasets.Dataset
        Text in ``text_column``, class ids in ``label_column``; ``id_column`` keys the map by the examples' ids
        (default: row positions).
    kind : {"probe", "proxy", "early", "subsample"}
        ``"probe"``: embed the texts once with the encoder (mean pooling, :func:`greennlp.encoders.embed`) and
        record a linear probe trained on them (:meth:`DataMap.from_probe`; defaults 10 epochs, Adam at 1e-3).
        ``"proxy"``: fine-tune a cheaper model, the encoder's first ``layers`` layers
        (:func:`greennlp.inference.keep_layers`) or the miniature size ``layers`` names (``"tiny"``, ...), recorded
        by ``DataMapCallback`` on the training forward pass (default 2 epochs). ``"early"``: the encoder's first
        ``epochs`` (default 1) epoch(s), scored in eval mode ``snapshots_per_epoch`` (default 2) times per epoch
        so that regions exist. ``"subsample"``: fine-tune the encoder on a seeded ``fraction`` of the rows
        (default 3 epochs), then give every other row the mean of its ``neighbours`` nearest mapped rows in
        embedding space (:meth:`DataMap.extend`).
    model : str, path or callable, optional
        The encoder: a hub id or path (default ``all-MiniLM-L6-v2``), a miniature size, or a function returning a
        fresh classification model (then pass ``tokenizer``).
    output_dir : path, optional
        Where the trained kinds (proxy, early, subsample) record their map with ``DataMapCallback``; required for
        them, as for the callback. The probe needs none. A map already there is replaced only with
        ``overwrite=True``.
    learning_rate : float, optional
        The probe's Adam learning rate (default 1e-3), or the fine-tuning peak learning rate of the other kinds
        (default 5e-5).
    batch_size : int, default 32
        Examples per optimizer step: of the probe, or of the fine-tuning (the early kind also scores in batches
        of this size).
    embeddings : array, optional
        Sentence embeddings of the dataset's texts already computed with this encoder (probe, subsample), e.g.
        shared by two kinds. They are priced as if computed here (the price is of the map from scratch), but their
        time is not in ``wall_time_s``.
    num_labels : int, optional
        Number of classes, the size of the classifier's (or probe's) output; default the largest class id in
        ``label_column`` plus 1, at least 2.
    max_length : int, default 128
        Texts are truncated to this many tokens wherever they are embedded, trained on or scored, and priced at
        that length.
    training_overrides :
        ``TrainingArguments`` for the fine-tuning kinds (:func:`greennlp.encoders.fine_tune`).

    Returns
    -------
    (DataMap, PriceTag)
        The map, and what it cost: ``train_flops`` is the whole price (``metrics["training_flops"]`` of the
        optimizer steps, ``metrics["forward_flops"]`` of embedding and scoring passes).

    Examples
    --------
    >>> probe_map, price = cheap_map(train, kind="probe")               # doctest: +SKIP
    >>> ambiguous = select_by_region(train, probe_map, "ambiguous", fraction=0.33)  # doctest: +SKIP
    >>> price.train_flops / full_run_price.train_flops                  # doctest: +SKIP
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}: choose one of {sorted(KINDS)} ({'; '.join(f'{k}: {v}' for k, v in KINDS.items())}).")
    default_epochs, default_rate, default_snapshots = _DEFAULTS[kind]
    epochs = default_epochs if epochs is None else epochs
    learning_rate = default_rate if learning_rate is None else learning_rate
    snapshots_per_epoch = default_snapshots if snapshots_per_epoch is None else snapshots_per_epoch
    labels = _labels(dataset, label_column, text_column, id_column)
    num_labels = num_labels or max(int(labels.max()) + 1, 2)
    ids = np.asarray(dataset[id_column]) if id_column else None
    if kind != "probe" and output_dir is None:
        raise ValueError(f"kind={kind!r} fine-tunes a model and records its map with DataMapCallback, which writes "
                         "it to a folder: pass output_dir= (e.g. 'maps/proxy').")
    if kind == "subsample" and not 0 < fraction < 1:
        raise ValueError(f"fraction={fraction!r}: the share of rows the subsample map trains on, in (0, 1).")
    if kind == "proxy" and not (isinstance(layers, str) and layers in MINIATURE_SIZES) and (
            isinstance(layers, bool) or not isinstance(layers, int) or layers < 1):
        raise ValueError(f"layers={layers!r}: the number of the encoder's first layers to keep (a positive int), or "
                         f"a miniature size ({sorted(MINIATURE_SIZES)}).")
    new_model, tokenizer, model_name = _model_factory(model, tokenizer, num_labels, seed)
    if id_column:  # the Trainer would drop the id column before DataMapCallback reads it; PaddingCollator drops it
        training_overrides.setdefault("remove_unused_columns", False)
    recipe = dict(epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, seed=seed,
                  text_column=text_column, label_column=label_column, max_length=max_length, **training_overrides)
    started = time.perf_counter()

    if kind in ("probe", "subsample"):
        encoder = new_model()
        embedding_flops = _forward_flops(encoder.config, tokenizer, dataset[text_column], max_length)
        if embeddings is None:
            embeddings = embed(dataset[text_column], encoder, tokenizer, max_length=max_length)
        elif np.shape(embeddings)[0] != len(dataset):
            raise ValueError(f"embeddings has {np.shape(embeddings)[0]} rows but the dataset {len(dataset)}; pass "
                             "one embedding per row, in dataset order.")
    if kind == "probe":
        data_map = DataMap.from_probe(embeddings, labels, epochs=epochs, snapshots_per_epoch=snapshots_per_epoch,
                                      learning_rate=learning_rate, batch_size=batch_size, num_labels=num_labels,
                                      seed=seed, ids=ids, id_column=id_column)
        from greennlp.datamaps.cheap import probe_flops

        training = probe_flops(len(dataset), np.shape(embeddings)[1], num_labels, epochs=epochs,
                               snapshots_per_epoch=snapshots_per_epoch)
        tag = PriceTag(run_name="cheap map (probe)", model_name=model_name,
                       n_parameters=int(sum(p.numel() for p in encoder.parameters())),
                       optimizer_steps=epochs * math.ceil(len(dataset) / batch_size), epochs=float(epochs),
                       examples_seen=epochs * len(dataset))
        return data_map, _priced(tag, started, training, embedding_flops,
                                 "probe: analytic (4 N d C per epoch, 2 N d C per snapshot); embedding: forward pass "
                                 "priced from the config per example's tokens")

    output_dir = Path(output_dir)
    budget = BudgetCallback(save=False)
    if kind == "proxy":
        target = new_model()
        if isinstance(layers, str):
            proxy = load_encoder(layers, num_labels=num_labels, tokenizer=tokenizer, seed=seed)
        else:
            total = target.config.num_hidden_layers
            if layers > total:
                raise ValueError(f"layers={layers} but the encoder has {total} layers.")
            proxy = keep_layers(target, list(range(layers)))
        recorder = DataMapCallback(output_dir, id_column=id_column, overwrite=overwrite)
        fine_tune(proxy, tokenizer, dataset, callbacks=[budget, recorder], keep_columns=_kept(id_column), **recipe)
        return DataMap.load(output_dir), _priced(
            _renamed(budget, "cheap map (proxy)"), started, budget.price_tag_.train_flops, 0,
            budget.price_tag_.flops_method)
    if kind == "early":
        target = new_model()
        recorder = DataMapCallback(output_dir, mode="eval", snapshots_per_epoch=snapshots_per_epoch,
                                   id_column=id_column, eval_batch_size=batch_size, overwrite=overwrite)
        fine_tune(target, tokenizer, dataset, callbacks=[budget, recorder], keep_columns=_kept(id_column), **recipe)
        passes = math.ceil(epochs) * snapshots_per_epoch
        scoring = passes * _forward_flops(target.config, tokenizer, dataset[text_column], max_length)
        return DataMap.load(output_dir), _priced(
            _renamed(budget, "cheap map (early)"), started, budget.price_tag_.train_flops, scoring,
            f"{budget.price_tag_.flops_method}; {passes} scoring passes priced from the config per example's tokens")
    # subsample
    count = max(2, int(round(fraction * len(dataset))))
    rows = np.sort(np.random.default_rng(seed).permutation(len(dataset))[:count])
    recorder = DataMapCallback(output_dir, store_probabilities=True, overwrite=overwrite)
    fine_tune(new_model(), tokenizer, dataset.select(rows), callbacks=[budget, recorder], **recipe)
    sample_map = DataMap.load(output_dir)
    data_map = sample_map.extend(embeddings, labels, rows=rows, neighbours=neighbours, ids=ids, id_column=id_column)
    data_map.metadata.update(subsample_fraction=fraction, subsample_rows=len(rows))
    return data_map, _priced(_renamed(budget, "cheap map (subsample)"), started, budget.price_tag_.train_flops,
                             embedding_flops, f"{budget.price_tag_.flops_method}; embedding: forward pass priced "
                             "from the config per example's tokens")


def cross_fitted_map(dataset: Dataset, *, folds: int = 2, model: ModelSpec = None,
                     tokenizer: PreTrainedTokenizerBase | None = None, epochs: int = 2,
                     snapshots_per_epoch: int = 1, learning_rate: float = 5e-5, batch_size: int = 32, seed: int = 0,
                     text_column: str = "text", label_column: str = "label", id_column: str | None = None,
                     num_labels: int | None = None, max_length: int = 128,
                     **training_overrides: Any) -> tuple[DataMap, PriceTag]:
    """A map of out-of-sample dynamics: the rows are cut into ``folds`` seeded folds; for each fold a fresh model
    is fine-tuned on the other folds (:func:`greennlp.encoders.fine_tune`) and scores the held-out fold in eval
    mode ``snapshots_per_epoch`` times per epoch (the last at each epoch's end). Every example is held out exactly
    once, so each of its records comes from a model that never trained on it. The time points are the snapshots;
    metadata ``held_out_fold`` names each example's fold, in table order.

    ``label_errors(by="confidence")`` on this map ranks by the lowest mean out-of-sample p(gold): the
    self-confidence ranking of confident learning (Northcutt et al. 2021), from ``folds`` trainings on
    ``1 - 1/folds`` of the data each. With two folds the training compute is that of one run on all the data, a
    quarter of a 5-fold cross-validation; scoring adds one forward pass over the data per time point.

    Returns the map and its ``PriceTag`` (``train_flops`` = every fold's optimizer steps plus the scoring passes;
    ``metrics["training_flops"]`` and ``metrics["forward_flops"]`` apart).

    Parameters
    ----------
    dataset : datasets.Dataset
        Text in ``text_column``, class ids in ``label_column``.
    folds : int, default 2
        Number of folds, at least 2 (and at least 2 examples per fold).
    model : str, path or callable, optional
        As in :func:`cheap_map`: a hub id or path (default ``all-MiniLM-L6-v2``), a miniature size, or a function
        returning a fresh classification model (then pass ``tokenizer``); every fold trains a fresh one.
    tokenizer : PreTrainedTokenizerBase, optional
        The model's tokenizer; loaded from the hub id or path when not given, required for a miniature size or a
        function.
    epochs : int, default 2
        Epochs of every fold's training.
    snapshots_per_epoch : int, default 1
        Times per epoch the held-out fold is scored, at evenly spaced steps (the last at the epoch's end).
    learning_rate : float, default 5e-5
        Peak learning rate of every fold's fine-tuning.
    batch_size : int, default 32
        Training examples per optimizer step (the held-out fold is scored in batches of 64).
    seed : int, default 0
        Seeds the split into folds, the training, and the models built here.
    text_column, label_column : str
        Columns of the texts and of the integer class ids (defaults ``"text"`` and ``"label"``).
    id_column : str, optional
        Column of the examples' own ids, which key the map (default: row positions).
    num_labels : int, optional
        Number of classes; default the largest class id in ``label_column`` plus 1, at least 2.
    max_length : int, default 128
        Texts are truncated to this many tokens for training and scoring, and priced at that length.
    **training_overrides
        Other ``TrainingArguments`` of every fold's fine-tuning (:func:`greennlp.encoders.fine_tune`).

    Examples
    --------
    >>> data_map, price = cross_fitted_map(train, folds=2, epochs=2)   # doctest: +SKIP
    >>> suspects = data_map.label_errors(by="confidence", count=400)    # doctest: +SKIP
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds={folds!r}: cross-fitting needs at least 2 folds (each model trains on the others).")
    if isinstance(snapshots_per_epoch, bool) or not isinstance(snapshots_per_epoch, int) or snapshots_per_epoch < 1:
        raise ValueError(f"snapshots_per_epoch={snapshots_per_epoch!r}: give a positive whole number.")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r}: give a positive whole number of epochs (each fold records at every "
                         "epoch's end, so every fold has the same time points).")
    labels = _labels(dataset, label_column, text_column, id_column)
    if len(dataset) < 2 * folds:
        raise ValueError(f"{len(dataset)} examples are too few for {folds} folds (at least 2 per fold).")
    num_labels = num_labels or max(int(labels.max()) + 1, 2)
    ids = np.asarray(dataset[id_column]) if id_column else None
    new_model, tokenizer, model_name = _model_factory(model, tokenizer, num_labels, seed)
    fold_of = np.random.default_rng(seed).permutation(len(dataset)) % folds
    steps = epochs * snapshots_per_epoch
    logits = np.full((len(dataset), steps, num_labels), np.nan, dtype=np.float32)
    tags, scoring, started = [], 0, time.perf_counter()
    for fold in range(folds):
        held_out = np.flatnonzero(fold_of == fold)
        budget = BudgetCallback(save=False)
        scorer = _HeldOutScorer(tokenize_dataset(dataset.select(held_out), tokenizer, text_column=text_column,
                                                 label_column=None, max_length=max_length),
                                PaddingCollator(tokenizer), snapshots_per_epoch, batch_size=64)
        fine_tune(new_model(), tokenizer, dataset.select(np.flatnonzero(fold_of != fold)), epochs=epochs,
                  learning_rate=learning_rate, batch_size=batch_size, seed=seed, callbacks=[budget, scorer],
                  text_column=text_column, label_column=label_column, max_length=max_length, **training_overrides)
        if len(scorer.logits_) != steps:
            raise RuntimeError(f"fold {fold} was scored at {len(scorer.logits_)} time points, not {steps} "
                               f"({epochs} epochs x {snapshots_per_epoch} snapshots): training stopped early "
                               "(max_steps?); every fold must be scored at the same time points.")
        logits[held_out] = np.stack(scorer.logits_, axis=1)
        scoring += steps * _forward_flops(scorer.config_, tokenizer, dataset.select(held_out)[text_column], max_length)
        tags.append(budget.price_tag_)
    metadata = {"mode": "cross-fitted", "folds": folds, "epochs": epochs, "snapshots_per_epoch": snapshots_per_epoch,
                "seed": seed, "held_out_fold": fold_of.tolist()}
    data_map = DataMap.from_logits(logits, labels, ids=ids, id_column=id_column, metadata=metadata)
    training = float(sum(tag.train_flops for tag in tags))
    tag = dataclasses.replace(
        tags[0], run_name=f"cross-fitted map ({folds} folds)", model_name=model_name,
        optimizer_steps=sum(t.optimizer_steps for t in tags), examples_seen=sum(t.examples_seen for t in tags),
        tokens_seen=sum(t.tokens_seen for t in tags), padded_tokens_seen=sum(t.padded_tokens_seen for t in tags),
        epochs=float(epochs), peak_memory_mb=max(t.peak_memory_mb for t in tags),
        energy_kwh=sum(t.energy_kwh for t in tags), co2e_kg=sum(t.co2e_kg for t in tags), metrics={})
    return data_map, _priced(tag, started, training, scoring,
                             f"{folds} fold trainings: {tags[0].flops_method}; {steps} scoring passes per held-out "
                             "fold priced from the config per example's tokens")


class _HeldOutScorer(TrainerCallback):
    """Score a held-out set in eval mode at ``snapshots_per_epoch`` evenly spaced steps of every epoch (the last at
    the epoch's end); ``logits_`` gets one ``(len(held_out), num_labels)`` array per time point, in the held-out
    set's row order. Put it after ``BudgetCallback`` so that its passes are not counted as training."""

    def __init__(self, held_out: Dataset, collator: PaddingCollator, snapshots_per_epoch: int, batch_size: int = 64):
        self.held_out = held_out
        self.collator = collator
        self.snapshots_per_epoch = snapshots_per_epoch
        self.batch_size = batch_size
        self.logits_: list[np.ndarray] = []
        self.config_ = None
        self._at: set[int] = set()

    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        steps = math.ceil(len(train_dataloader) / args.gradient_accumulation_steps)
        epochs = math.ceil(args.num_train_epochs)
        self._at = {epoch * steps + math.ceil(steps * (k + 1) / self.snapshots_per_epoch)
                    for epoch in range(epochs) for k in range(self.snapshots_per_epoch)}
        self.logits_ = []
        self.config_ = model.config

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step in self._at:
            self.logits_.append(self._score(model, bool(args.bf16)))

    @torch.no_grad()
    def _score(self, model, bf16: bool) -> np.ndarray:
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        lengths = np.asarray(self.held_out["num_tokens"])
        order = np.argsort(lengths, kind="stable")  # length-sorted batches: little padding
        output = np.empty((len(lengths), model.config.num_labels), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            batch = self.collator([self.held_out[int(row)] for row in rows])
            batch = {k: v.to(device) for k, v in batch.items() if k != "labels"}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                output[rows] = model(**batch).logits.float().cpu().numpy()
        model.train(was_training)
        return output


def _labels(dataset: Dataset, label_column: str, text_column: str, id_column: str | None) -> np.ndarray:
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a datasets.Dataset with text and labels; got {type(dataset).__name__}.")
    missing = [c for c in (text_column, label_column, id_column) if c and c not in dataset.column_names]
    if missing:
        raise ValueError(f"The dataset has no column {missing[0]!r} (columns: {dataset.column_names}).")
    if len(dataset) < 2:
        raise ValueError(f"A map needs at least 2 examples; the dataset has {len(dataset)}.")
    labels = np.asarray(dataset[label_column])
    if labels.dtype.kind not in "iu" or (labels < 0).any():
        raise ValueError(f"{label_column!r} must hold non-negative class ids (integers); got {labels.dtype} values "
                         f"such as {labels[:3].tolist()}.")
    return labels.astype(np.int64)


def _model_factory(model: ModelSpec, tokenizer, num_labels: int, seed: int):
    """``(new_model, tokenizer, name)``: a function returning a fresh classification model, seeded."""
    if model is None:
        model = DEFAULT_MODEL
    if callable(model) and not isinstance(model, (str, os.PathLike)):
        if tokenizer is None:
            raise ValueError("model is a function returning a model: pass its tokenizer= too.")
        return model, tokenizer, getattr(model, "__name__", "model")
    name = str(model)
    if name in MINIATURE_SIZES:
        if tokenizer is None:
            raise ValueError(f"model={name!r} is built from a config and needs tokenizer= for its vocabulary.")
    else:
        tokenizer = tokenizer or load_tokenizer(name)
    return (lambda: load_encoder(name, num_labels=num_labels, tokenizer=tokenizer, seed=seed)), tokenizer, name


def _kept(id_column: str | None) -> tuple[str, ...]:
    return (id_column,) if id_column else ()


def _forward_flops(config, tokenizer, texts, max_length: int) -> int:
    """FLOPs of one forward pass of a BERT classifier over ``texts``, each at its own length (no padding)."""
    lengths = np.asarray([len(ids) for ids in tokenizer(list(texts), truncation=True,
                                                        max_length=max_length)["input_ids"]], dtype=np.int64)
    return int(np.sum(early_exit_flops(config, lengths, config.num_hidden_layers)))


def _renamed(budget: BudgetCallback, name: str) -> PriceTag:
    if budget.price_tag_ is None:
        raise RuntimeError("The map's training run has no price tag (a training step failed).")
    return dataclasses.replace(budget.price_tag_, run_name=name, metrics={})


def _priced(tag: PriceTag, started: float, training: float, forward: float, method: str) -> PriceTag:
    return dataclasses.replace(tag, wall_time_s=time.perf_counter() - started, train_flops=float(training + forward),
                               flops_method=method,
                               metrics={"training_flops": float(training), "forward_flops": float(forward)})

