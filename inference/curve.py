"""The speed/accuracy curve of early exit: one row per confidence threshold, priced in layers, FLOPs and
milliseconds per example, so a threshold can be chosen against the full model in the same run."""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from datasets import Dataset

from greennlp.encoders.finetune import correctness

from ._checks import check_threshold, class_ids
from .early_exit import EarlyExitClassifier
from .flops import early_exit_flops


def exit_curve(
    model: EarlyExitClassifier,
    dataset: Dataset,
    thresholds: Sequence[float],
    *,
    batch_size: int = 64,
    label_column: str = "labels",
    repeats: int = 1,
) -> pd.DataFrame:
    """Accuracy and cost of :meth:`EarlyExitClassifier.predict` at each threshold on a tokenized, labelled dataset.

    Parameters
    ----------
    model:
        A trained (and usually calibrated) :class:`EarlyExitClassifier`.
    dataset:
        Tokenized held-out data with ``input_ids`` and labels (``label_column``).
    thresholds:
        Confidence thresholds; ``1.0`` runs every layer (the full model's row).
    batch_size:
        Examples per batch, as in ``predict``.
    label_column:
        Column holding the class ids. It must be there (no other column is used instead), and every row must be
        labelled with a class id of the model (no -100): otherwise ``ValueError`` names the column and the fix.
    repeats:
        Rounds over all thresholds; each row keeps its fastest round, so load on a shared machine hits every
        threshold alike (the predictions are the same in every round).

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold``, ``accuracy``, ``mean_layers`` (encoder layers run per example),
        ``flops_per_example`` (counted from the config and each example's own length, see
        :meth:`EarlyExitClassifier.flops_per_example`) and ``ms_per_example`` (wall-clock time of ``predict`` over the dataset
        divided by its size, fastest of ``repeats`` rounds, after one untimed warm-up pass on the first
        batch, at the current torch thread count).

        When ``thresholds`` hold the full model (``1.0``, or any threshold ``>= 1``; the first such row is the
        reference), three columns compare every row with it, measured in the same run:
        ``accuracy_change`` (``accuracy`` minus the full model's, a fraction like ``accuracy``: x100 for
        points), ``flops_ratio`` (the full model's ``flops_per_example`` over this row's: 2.0 means half the
        FLOPs) and ``speedup`` (the full model's ``ms_per_example`` over this row's). Without the full model
        these columns are left out rather than filled with NaN.

    Examples
    --------
    >>> curve = exit_curve(model, tokenized_dev, [0.6, 0.8, 0.9, 1.0])  # doctest: +SKIP
    >>> curve[["threshold", "accuracy_change", "flops_ratio", "speedup"]]  # doctest: +SKIP

    With BERT-tiny (2 layers) built from a config and trained briefly: at threshold 0 every example leaves at the
    first exit, for half the FLOPs of the full model.

    >>> from greennlp.encoders import fine_tune, tokenize_dataset, train_wordpiece_tokenizer
    >>> data = Dataset.from_dict({"text": [f"a {word} film" for word in ("good", "great", "bad", "dull")] * 4,
    ...                           "label": [1, 1, 0, 0] * 4})
    >>> tokenizer = train_wordpiece_tokenizer(data["text"], vocab_size=100)
    >>> model = EarlyExitClassifier.from_pretrained("tiny", num_labels=2, tokenizer=tokenizer, seed=0)
    >>> _ = fine_tune(model, tokenizer, data, epochs=1, batch_size=8)
    >>> dev = tokenize_dataset(data.select(range(8)), tokenizer)
    >>> curve = exit_curve(model.calibrate(dev), dev, [0.0, 1.0])
    >>> curve.columns.tolist()
    ['threshold', 'accuracy', 'mean_layers', 'flops_per_example', 'ms_per_example', 'accuracy_change', 'flops_ratio', 'speedup']
    >>> curve[["threshold", "mean_layers", "flops_ratio"]].round(2)
       threshold  mean_layers  flops_ratio
    0        0.0          1.0          2.0
    1        1.0          2.0          1.0
    """
    if len(dataset) == 0:
        raise ValueError("exit_curve() needs a non-empty dataset: an accuracy of no examples is undefined "
                         "(EarlyExitClassifier.predict() returns an empty frame for one).")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}.")
    labels = class_ids(dataset, label_column, model.num_labels, caller="exit_curve()", unlabelled="refuse")
    for threshold in thresholds:  # all of them before any is timed
        check_threshold(threshold)
    lengths = np.asarray([len(ids) for ids in dataset["input_ids"]])
    model.predict(dataset.select(range(min(batch_size, len(dataset)))), threshold=1.0, batch_size=batch_size)
    results, seconds = {}, {}
    for _ in range(repeats):
        for threshold in thresholds:
            start = time.perf_counter()
            results[threshold] = model.predict(dataset, threshold=threshold, batch_size=batch_size)
            seconds[threshold] = min(seconds.get(threshold, float("inf")), time.perf_counter() - start)
    rows = []
    for threshold in thresholds:
        result = results[threshold]
        exits = result["exit_layer"].to_numpy()
        flops = [early_exit_flops(model.config, int(n), int(layer)) for n, layer in zip(lengths, exits, strict=True)]
        rows.append({
            "threshold": float(threshold),
            "accuracy": float(correctness(result["label"].to_numpy(), labels).mean()),
            "mean_layers": float(exits.mean()),
            "flops_per_example": float(np.mean(flops)),
            "ms_per_example": 1000 * seconds[threshold] / len(dataset),
        })
    curve = pd.DataFrame(rows)
    full = np.flatnonzero(curve["threshold"].to_numpy() >= 1.0)  # threshold >= 1 runs every layer
    if len(full):
        reference = curve.iloc[full[0]]
        curve["accuracy_change"] = curve["accuracy"] - reference["accuracy"]
        curve["flops_ratio"] = reference["flops_per_example"] / curve["flops_per_example"]
        curve["speedup"] = reference["ms_per_example"] / curve["ms_per_example"]
    return curve
