"""The shape every few-shot classifier shares: scikit-learn style configuration, label bookkeeping and prediction.

Subclasses implement ``_fit(texts, labels)`` (labels already mapped to 0..C-1) and ``_predict_proba(texts)``.
"""
from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from transformers import AutoModel, PreTrainedModel

from greennlp.encoders.models import default_device, resolve_model_path

#: Default checkpoints (hub ids) when none is given: SetFit's sentence encoder for the encoder methods,
#: PET/LM-BFF's masked LM, and a small causal LM for in-context learning.
DEFAULT_SENTENCE_ENCODER = "sentence-transformers/paraphrase-mpnet-base-v2"
DEFAULT_MASKED_LM = "roberta-large"
DEFAULT_CAUSAL_LM = "gpt2"


class NotFittedError(RuntimeError):
    """Raised when ``predict`` or ``predict_proba`` is called before ``fit``."""


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so that one ``seed`` gives one result."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def count_trainable_parameters(*modules: torch.nn.Module | None) -> int:
    """Number of parameters with ``requires_grad`` over ``modules`` (``None`` entries are skipped)."""
    return sum(p.numel() for module in modules if module is not None for p in module.parameters() if p.requires_grad)


def load_sentence_encoder(model_name_or_path: str, device: torch.device | None = None) -> PreTrainedModel:
    """The bare encoder (no head) behind a sentence-embedding method, with fused attention."""
    model = AutoModel.from_pretrained(resolve_model_path(model_name_or_path), attn_implementation="sdpa")
    return model.to(device or default_device())


class FewShotClassifier:
    """Base class: ``Method(model_name_or_path, **options)``, ``fit(dataset)``, ``predict``, ``predict_proba``.

    Labels may be any integers; ``classes_`` holds them sorted and ``predict`` returns values from it.
    After ``fit``: ``classes_``, ``num_trainable_parameters_`` (what the method updated) and ``fit_seconds_``.
    """

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_SENTENCE_ENCODER,
        text_column: str = "text",
        label_column: str = "label",
        seed: int = 0,
        batch_size: int = 16,
        max_length: int = 256,
    ) -> None:
        self.model_name_or_path = model_name_or_path
        self.text_column = text_column
        self.label_column = label_column
        self.seed = seed
        self.batch_size = batch_size
        self.max_length = max_length

    # -- public API -------------------------------------------------------------------------------------------
    def fit(self, dataset: Dataset) -> FewShotClassifier:
        """Train on ``dataset`` (a ``datasets.Dataset`` with the text and label columns); returns ``self``."""
        texts, labels = self._texts_and_labels(dataset)
        self.classes_ = self._classes_for(labels)
        codes = np.searchsorted(self.classes_, labels)
        seed_everything(self.seed)
        start = time.perf_counter()
        self._fit(texts, codes)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def predict_proba(self, texts: Sequence[str] | Dataset) -> np.ndarray:
        """Class probabilities, shape ``(len(texts), len(classes_))``; columns follow ``classes_``."""
        self._check_fitted()
        texts = self._as_texts(texts)
        if not texts:
            return np.empty((0, len(self.classes_)), dtype=np.float64)
        with torch.inference_mode():
            probabilities = np.asarray(self._predict_proba(texts), dtype=np.float64)
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str] | Dataset) -> list[int]:
        """The most probable label of each text, as values of ``classes_``."""
        probabilities = self.predict_proba(texts)
        return [int(label) for label in self.classes_[probabilities.argmax(axis=1)]]

    def score(self, dataset: Dataset) -> float:
        """Accuracy on a ``Dataset`` with the text and label columns."""
        texts, labels = self._texts_and_labels(dataset)
        return float(np.mean(np.asarray(self.predict(texts)) == labels))

    def get_params(self) -> dict[str, Any]:
        """The configuration given to ``__init__`` (scikit-learn convention)."""
        return {name: value for name, value in vars(self).items() if not name.endswith("_") and not name.startswith("_")}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_name_or_path!r})"

    # -- for subclasses ---------------------------------------------------------------------------------------
    def _classes_for(self, labels: np.ndarray) -> np.ndarray:
        classes = np.unique(labels)
        if len(classes) < 2:
            raise ValueError(f"fit() needs at least two classes in column {self.label_column!r}; got {classes.tolist()}.")
        return classes

    def _fit(self, texts: list[str], labels: np.ndarray) -> None:
        raise NotImplementedError

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    @property
    def num_classes_(self) -> int:
        return len(self.classes_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(train_dataset) first.")

    def _texts_and_labels(self, dataset: Dataset) -> tuple[list[str], np.ndarray]:
        columns = getattr(dataset, "column_names", None)
        if columns is None:
            raise TypeError(
                f"fit() expects a datasets.Dataset with {self.text_column!r} and {self.label_column!r} columns, "
                f"got {type(dataset).__name__}; build one with datasets.Dataset.from_dict({{...}})."
            )
        missing = [c for c in (self.text_column, self.label_column) if c not in columns]
        if missing:
            raise ValueError(
                f"Dataset has no column(s) {missing}; it has {columns}. Pass text_column=/label_column= to "
                f"{type(self).__name__}(...) to name the right ones."
            )
        if len(dataset) == 0:
            raise ValueError("fit() got an empty dataset.")
        return list(dataset[self.text_column]), np.asarray(dataset[self.label_column], dtype=np.int64)

    def _as_texts(self, texts: Sequence[str] | Dataset) -> list[str]:
        if isinstance(texts, Dataset):
            return list(texts[self.text_column])
        if isinstance(texts, str):
            raise TypeError("predict() takes a list of texts, not a single string: wrap it as [text].")
        return list(texts)

    def _batches(self, items: Sequence[Any], batch_size: int | None = None) -> list[Sequence[Any]]:
        size = batch_size or self.batch_size
        return [items[i : i + size] for i in range(0, len(items), size)]
