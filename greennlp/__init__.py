"""greennlp: the same accuracy from less data and less compute, and the price tag of every result.

Capabilities import as ``greennlp.<capability>``: :mod:`greennlp.datamaps` (dataset cartography inside
``Trainer``), :mod:`greennlp.filters` (choosing less data; corpus cleaning), :mod:`greennlp.masking`
(content-word masking for MLM pretraining), :mod:`greennlp.fewshot` (few-shot baselines under one protocol),
:mod:`greennlp.encoders` (fast encoders and the one fine-tuning path) and :mod:`greennlp.budgets` (price tags).
The most used names are also here, resolved on first use so that ``import greennlp`` stays cheap.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import attach

__version__ = "0.2.0"

_EXPORTS = {
    "BudgetCallback": ".budgets",
    "DataMap": ".datamaps",
    "DataMapCallback": ".datamaps",
    "load_encoder": ".encoders",
    "select_by_region": ".filters",
}
__all__ = [
    "__version__",
    "BudgetCallback",
    "DataMap",
    "DataMapCallback",
    "load_encoder",
    "select_by_region",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .budgets import BudgetCallback
    from .datamaps import DataMap, DataMapCallback
    from .encoders import load_encoder
    from .filters import select_by_region
