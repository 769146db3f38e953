"""Few-shot text classification under one protocol: K-shot sampling, six methods (scikit-learn estimators)
and a priced benchmark."""
from __future__ import annotations

from typing import TYPE_CHECKING

from greennlp._lazy import attach

_EXPORTS = {
    "ContrastiveClassifier": ".contrastive",
    "FewShotClassifier": ".base",
    "HeadClassifier": ".head",
    "InContextClassifier": ".in_context",
    "LinearProbe": ".embedding_methods",
    "PatternClassifier": ".patterns",
    "PrototypeClassifier": ".embedding_methods",
    "run_benchmark": ".protocol",
    "sample_k_shot": ".sampling",
    "summarize_benchmark": ".protocol",
}
__all__ = [
    "ContrastiveClassifier",
    "FewShotClassifier",
    "HeadClassifier",
    "InContextClassifier",
    "LinearProbe",
    "PatternClassifier",
    "PrototypeClassifier",
    "run_benchmark",
    "sample_k_shot",
    "summarize_benchmark",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .base import FewShotClassifier
    from .contrastive import ContrastiveClassifier
    from .embedding_methods import LinearProbe, PrototypeClassifier
    from .head import HeadClassifier
    from .in_context import InContextClassifier
    from .patterns import PatternClassifier
    from .protocol import run_benchmark, summarize_benchmark
    from .sampling import sample_k_shot
