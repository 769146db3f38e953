"""Efficient encoders: building and loading models, the cheap data path, the one fine-tuning path, embeddings,
int8 inference and the benchmark data sets."""
from __future__ import annotations

from typing import TYPE_CHECKING

from greennlp._lazy import attach

_EXPORTS = {
    "accuracy": ".finetune",
    "efficient_training_args": ".training",
    "embed": ".embedding",
    "fine_tune": ".finetune",
    "load_benchmark": ".benchmarks",
    "load_encoder": ".models",
    "load_tokenizer": ".models",
    "quantize_int8": ".quantization",
    "tokenize_dataset": ".data",
    "train_wordpiece_tokenizer": ".tokenizers",
}
__all__ = [
    "accuracy",
    "efficient_training_args",
    "embed",
    "fine_tune",
    "load_benchmark",
    "load_encoder",
    "load_tokenizer",
    "quantize_int8",
    "tokenize_dataset",
    "train_wordpiece_tokenizer",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .benchmarks import load_benchmark
    from .data import tokenize_dataset
    from .embedding import embed
    from .finetune import accuracy, fine_tune
    from .models import load_encoder, load_tokenizer
    from .quantization import quantize_int8
    from .tokenizers import train_wordpiece_tokenizer
    from .training import efficient_training_args
