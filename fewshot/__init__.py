"""Few-shot text classification under one protocol: K-shot sampling, six methods, and a priced benchmark."""
from .base import FewShotClassifier, NotFittedError
from .contrastive import ContrastiveClassifier, generate_pairs
from .embedding_methods import LinearProbe, PrototypeClassifier
from .head import HeadClassifier
from .in_context import InContextClassifier
from .patterns import PatternClassifier
from .protocol import (RUN_COLUMNS, clone_with_seed, plot_accuracy_vs_k, run_benchmark, summarize_benchmark,
                       write_benchmark)
from .sampling import sample_k_shot

__all__ = [
    "ContrastiveClassifier",
    "FewShotClassifier",
    "HeadClassifier",
    "InContextClassifier",
    "LinearProbe",
    "NotFittedError",
    "PatternClassifier",
    "PrototypeClassifier",
    "RUN_COLUMNS",
    "clone_with_seed",
    "generate_pairs",
    "plot_accuracy_vs_k",
    "run_benchmark",
    "sample_k_shot",
    "summarize_benchmark",
    "write_benchmark",
]
