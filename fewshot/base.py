"""The shape every few-shot classifier shares: a scikit-learn estimator (configuration in ``__init__``, learned
state in ``*_`` attributes), label bookkeeping and prediction.

Subclasses implement ``_fit(texts, labels)`` (labels already mapped to 0..C-1) and ``_predict_proba(texts)``.
"""
from __future__ import annotations

import numbers
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from greennlp._seeding import seeded_rng
from greennlp.encoders.finetune import correctness
from greennlp.encoders.models import DEFAULT_PRETRAINED, default_device

#: Default checkpoints (hub ids) of the prompting methods: PET/LM-BFF's masked LM and a small causal LM. The
#: sentence-encoder methods default to the project's one encoder, ``encoders.models.DEFAULT_PRETRAINED``.
DEFAULT_MASKED_LM = "roberta-large"
DEFAULT_CAUSAL_LM = "gpt2"


def count_trainable_parameters(*modules: torch.nn.Module | None) -> int:
    """Number of parameters with ``requires_grad`` over ``modules`` (``None`` entries are skipped)."""
    return sum(p.numel() for module in modules if module is not None for p in module.parameters() if p.requires_grad)


def check_number(owner: str, name: str, value: Any, *, integer: bool = False, minimum: float | None = None,
                 above: float | None = None, optional: bool = False) -> None:
    """Raise a ``ValueError`` naming ``owner(name=value)`` unless ``value`` is a number in the allowed range."""
    if optional and value is None:
        return
    kind = numbers.Integral if integer else numbers.Real
    allowed = "an integer" if integer else "a number"
    if minimum is not None:
        allowed += f" >= {minimum}"
    if above is not None:
        allowed += f" > {above}"
    if (not isinstance(value, kind) or isinstance(value, bool) or (minimum is not None and value < minimum)
            or (above is not None and value <= above)):
        raise ValueError(f"{owner}({name}={value!r}): {name} must be {allowed}{' or None' if optional else ''}.")


class FewShotClassifier(ClassifierMixin, BaseEstimator):
    """Base class: ``Method(model_name_or_path, **options)``, ``fit``, ``predict``, ``predict_proba``, ``score``.

    A scikit-learn estimator: the options are the keyword-only ``__init__`` parameters, stored as given and
    checked in ``fit``; ``get_params``/``set_params`` and ``sklearn.base.clone`` work, and ``predict`` before
    ``fit`` raises ``sklearn.exceptions.NotFittedError``. ``fit`` draws its randomness from ``seed`` alone and
    leaves the global random state (Python, NumPy, torch) as it found it.

    Labels must be integers (any values); ``classes_`` holds them sorted and ``predict`` returns values from it.
    After ``fit``: ``classes_``, ``num_trainable_parameters_`` (what the method updated) and ``fit_seconds_``.

    Parameters
    ----------
    model_name_or_path : str
        Hub id or local path of the checkpoint.
    text_column, label_column : str
        Columns read from a ``datasets.Dataset``.
    seed : int
        Seed of everything random in ``fit`` (initialisation, data order, sampling).
    batch_size : int
        Examples per step or per forward pass.
    device : str or None
        Where the model trains and predicts (``"cpu"``, ``"cuda"``, ``"cuda:1"``); ``None`` picks the GPU when
        torch sees one, else the CPU.
    """

    def __init__(self, model_name_or_path: str = DEFAULT_PRETRAINED, *, text_column: str = "text",
                 label_column: str = "label", seed: int = 0, batch_size: int = 16, device: str | None = None) -> None:
        self.model_name_or_path = model_name_or_path
        self.text_column = text_column
        self.label_column = label_column
        self.seed = seed
        self.batch_size = batch_size
        self.device = device

    # -- public API -------------------------------------------------------------------------------------------
    def fit(self, X: Dataset | Sequence[str], y: Sequence[int] | None = None) -> FewShotClassifier:
        """Train on ``X``: a ``datasets.Dataset`` with the text and label columns, or a list of texts with labels
        ``y``. Returns ``self``."""
        self._check_params()
        texts, labels = self._texts_and_labels(X, y)
        self.classes_ = self._classes_for(labels)
        codes = np.searchsorted(self.classes_, labels)
        start = time.perf_counter()
        with seeded_rng(self.seed):  # leaves the caller's random state (Python, NumPy, torch) as it was
            self._fit(texts, codes)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def predict_proba(self, X: Sequence[str] | Dataset) -> np.ndarray:
        """Class probabilities, shape ``(len(X), len(classes_))``; columns follow ``classes_``."""
        check_is_fitted(self, "classes_")
        texts = self._as_texts(X)
        if not texts:
            return np.empty((0, len(self.classes_)), dtype=np.float64)
        with torch.inference_mode():
            probabilities = np.asarray(self._predict_proba(texts), dtype=np.float64)
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def predict(self, X: Sequence[str] | Dataset) -> list[int]:
        """The most probable label of each text (a list of texts or a Dataset), as values of ``classes_``."""
        probabilities = self.predict_proba(X)
        return [int(label) for label in self.classes_[probabilities.argmax(axis=1)]]

    def score(self, X: Dataset | Sequence[str], y: Sequence[int] | None = None, sample_weight=None) -> float:
        """Accuracy (the fraction of examples predicted correctly, as ``encoders.accuracy``) on a Dataset with
        the text and label columns, or on texts ``X`` with labels ``y``."""
        texts, labels = self._texts_and_labels(X, y, action="score()")
        return float(np.average(correctness(self.predict(texts), labels), weights=sample_weight))

    # -- for subclasses ---------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        """Check the ``__init__`` parameters (called by ``fit``); subclasses add theirs."""
        name = type(self).__name__
        for column in ("text_column", "label_column"):
            if not isinstance(getattr(self, column), str):
                raise ValueError(f"{name}({column}={getattr(self, column)!r}): give the column name as a string.")
        if not isinstance(self.model_name_or_path, str) or not self.model_name_or_path:
            raise ValueError(f"{name}(model_name_or_path={self.model_name_or_path!r}): give a hub id or a local path.")
        check_number(name, "seed", self.seed, integer=True, minimum=0)
        check_number(name, "batch_size", self.batch_size, integer=True, minimum=1)
        self._device()  # a device torch does not know is named here, before anything is loaded
        if hasattr(self, "max_length"):
            check_number(name, "max_length", self.max_length, integer=True, minimum=1)

    def _classes_for(self, labels: np.ndarray) -> np.ndarray:
        classes = np.unique(labels)
        if len(classes) < 2:
            raise ValueError(f"fit() needs at least two classes in column {self.label_column!r}; got {classes.tolist()}.")
        return classes

    def _fit(self, texts: list[str], labels: np.ndarray) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _fit: use one of the few-shot methods.")

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _device(self) -> torch.device:
        """The device of ``device`` (``None``: the GPU when torch sees one, else the CPU)."""
        if self.device is None:
            return default_device()
        try:
            return torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(f"{type(self).__name__}(device={self.device!r}): give a torch device such as 'cpu', "
                             "'cuda' or 'cuda:1', or None for the GPU when there is one.") from None

    @property
    def num_classes_(self) -> int:
        return len(self.classes_)

    def _texts_and_labels(self, X: Dataset | Sequence[str], y: Sequence[int] | None,
                          action: str = "fit()") -> tuple[list[str], np.ndarray]:
        if isinstance(X, Dataset):
            columns = [self.text_column] + ([self.label_column] if y is None else [])
            missing = [c for c in columns if c not in X.column_names]
            if missing:
                raise ValueError(
                    f"Dataset has no column(s) {missing}; it has {X.column_names}. Pass text_column=/label_column= "
                    f"to {type(self).__name__}(...) to name the right ones."
                )
            texts = list(X[self.text_column])
            labels, where = (list(X[self.label_column]), f"column {self.label_column!r}") if y is None else (y, "y")
        elif isinstance(X, Sequence) and not isinstance(X, str) and y is not None:
            texts, labels, where = list(X), y, "y"
        else:
            raise TypeError(
                f"{action} expects a datasets.Dataset with {self.text_column!r} and {self.label_column!r} columns "
                f"(or a list of texts and y=labels), got {type(X).__name__}; build one with "
                "datasets.Dataset.from_dict({...})."
            )
        if len(texts) == 0:
            raise ValueError(f"{action} got an empty dataset.")
        if len(labels) != len(texts):
            raise ValueError(f"{action} got {len(texts)} texts and {len(labels)} labels; give one label per text.")
        return texts, self._integer_labels(labels, where)

    def _integer_labels(self, labels: Sequence[Any], where: str) -> np.ndarray:
        values = np.asarray(labels)
        if values.dtype.kind in "iub":
            return values.astype(np.int64)
        examples = sorted({repr(value) for value in values.tolist() if not isinstance(value, int)})[:3]
        if where == "y":
            fix = "map them to integers first, e.g. sklearn.preprocessing.LabelEncoder().fit_transform(y)"
        else:
            column = self.label_column
            fix = (f"string labels: dataset.class_encode_column({column!r}); whole-number floats: "
                   f"dataset.cast_column({column!r}, datasets.Value('int64')); rows without a label: "
                   "dataset.filter(...)")
        raise ValueError(
            f"Labels in {where} must be integer class ids; found {', '.join(examples)} ({values.dtype} values): {fix}."
        )

    def _as_texts(self, X: Sequence[str] | Dataset) -> list[str]:
        if isinstance(X, Dataset):
            return list(X[self.text_column])
        if isinstance(X, str):
            raise TypeError("predict() takes a list of texts, not a single string: wrap it as [text].")
        return list(X)

    def _batches(self, items: Sequence[Any], batch_size: int | None = None) -> list[Sequence[Any]]:
        size = batch_size or self.batch_size
        return [items[i : i + size] for i in range(0, len(items), size)]
