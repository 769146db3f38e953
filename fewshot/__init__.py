"""Few-shot text classification under one protocol: K-shot sampling, six methods, and a priced benchmark."""
from .base import FewShotClassifier, NotFittedError
from .contrastive import ContrastiveClassifier, generate_pairs
from .embedding_methods import LinearProbe, PrototypeClassifier
from .head import HeadClassifier
from .sampling import sample_k_shot

__all__ = [
    "ContrastiveClassifier",
    "FewShotClassifier",
    "HeadClassifier",
    "LinearProbe",
    "NotFittedError",
    "PrototypeClassifier",
    "generate_pairs",
    "sample_k_shot",
]
