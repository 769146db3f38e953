"""Checks of the arguments and class ids the inference tools take: a wrong label column, empty or unlabelled data,
class ids outside the classifier's range, bools or fractions where numbers or layer indices are meant. Each is
refused with an error naming it, instead of turning into a silently wrong temperature, accuracy or loss."""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
from datasets import Dataset

#: The label ``transformers`` (and ``torch.nn.functional.cross_entropy``) ignores: a row without a gold label.
UNLABELLED = -100


def is_number(value) -> bool:
    """A real number (Python or numpy, NaN included), but not a bool: ``True`` is no probability or temperature."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_threshold(threshold) -> float:
    """An early-exit confidence threshold as a float: any real number >= 0; a bool, a negative number or NaN is
    refused (``True > 0.9`` would quietly be a threshold of 1)."""
    if not is_number(threshold) or not threshold >= 0:  # NaN fails the comparison
        raise ValueError(f"threshold is a probability, a number >= 0 (0 exits every example at the first exit, "
                         f">= 1 runs every layer); got {threshold!r}.")
    return float(threshold)


def whole_numbers(values: Sequence) -> list[int] | None:
    """``values`` as a list of ints when every one is an integer (Python or numpy, not a bool), else ``None``:
    ``int(0.9)`` would quietly become layer 0."""
    try:
        items = list(values)
    except TypeError:
        return None
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in items):
        return None
    return [int(v) for v in items]


def class_ids(dataset: Dataset, label_column: str, num_labels: int, *, caller: str, unlabelled: str) -> np.ndarray:
    """The class ids in ``dataset[label_column]``, checked against a classifier with ``num_labels`` classes.

    ``unlabelled`` says what rows labelled ``-100`` may do: ``"ignore"`` (left out, as cross-entropy leaves them out,
    but not every row), ``"allow"`` (any number, e.g. distillation's transfer sentences) or ``"refuse"`` (an
    accuracy needs every row labelled). Raises ``ValueError`` naming the column, the value and the fix.
    """
    columns = dataset.column_names
    if label_column not in columns:
        others = [c for c in ("labels", "label") if c in columns and c != label_column]
        fix = (f"pass label_column={others[0]!r}" if others
               else "pass label_column= naming the column of class ids")
        raise ValueError(f"{caller}: No label column {label_column!r} in the dataset (it has {columns}); {fix}.")
    if len(dataset) == 0:
        raise ValueError(f"{caller} needs labelled data; the dataset is empty.")
    values = np.asarray(dataset[label_column])
    ids = _whole_ids(values, label_column, caller)
    outside = (ids != UNLABELLED) & ((ids < 0) | (ids >= num_labels))
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"{caller}: {label_column!r} holds {int(ids[row])} (row {row}), but the model has num_labels={num_labels}: "
            f"class ids run from 0 to {num_labels - 1}, and {UNLABELLED} marks an unlabelled row. Fix the labels, or "
            f"use a model with as many labels as the data has classes."
        )
    missing = int((ids == UNLABELLED).sum())
    if missing and unlabelled == "refuse":
        raise ValueError(
            f"{caller}: {missing} of the {len(ids)} rows of {label_column!r} are {UNLABELLED} (unlabelled), and an "
            f"accuracy needs every row labelled; drop them first: "
            f"dataset.filter(lambda row: row[{label_column!r}] != {UNLABELLED})."
        )
    if missing == len(ids) and unlabelled == "ignore":
        raise ValueError(f"{caller}: every label in {label_column!r} is {UNLABELLED} (unlabelled); it needs labelled "
                         f"rows. Pass held-out data with gold class ids.")
    return ids


def check_label_tensor(labels: torch.Tensor, num_labels: int, *, name: str = "labels") -> None:
    """Refuse class ids outside ``[0, num_labels)`` (``-100`` excepted) in a batch, naming the value: cross-entropy
    would raise ``IndexError: Target 7 is out of bounds`` on CPU and a device-side assert on CUDA."""
    outside = (labels != UNLABELLED) & ((labels < 0) | (labels >= num_labels))
    if bool(outside.any()):
        value = int(labels[outside].flatten()[0])
        raise ValueError(
            f"{name} holds {value}, but the model has num_labels={num_labels}: class ids run from 0 to "
            f"{num_labels - 1}, and {UNLABELLED} marks an unlabelled row. Fix the labels, or use models with as many "
            "labels as the data has classes."
        )


def _whole_ids(values: np.ndarray, label_column: str, caller: str) -> np.ndarray:
    def refuse(value) -> ValueError:
        return ValueError(f"{caller}: {label_column!r} must hold whole class ids (0, 1, ..., or {UNLABELLED} for an "
                          f"unlabelled row); it holds {value!r}. Map the labels to class ids first (e.g. a "
                          "ClassLabel feature, or dataset.map).")

    if values.ndim != 1:
        raise refuse(values[0].tolist())
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            raise refuse(values[bad][0].item())
        return values.astype(np.int64)
    for value in values:  # bools, strings, None, mixed objects: name the first that is not a whole number
        if not is_number(value) or not float(value).is_integer():
            raise refuse(value.item() if isinstance(value, np.generic) else value)
    return values.astype(np.int64)
