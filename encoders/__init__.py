"""Efficient encoders: fast model construction, training settings, embeddings and benchmark data."""
from .benchmarks import BENCHMARKS, DATA_DIR_ENV, data_dir, load_benchmark
from .embedding import embed, mean_pool
from .models import (
    DEFAULT_PRETRAINED,
    MINIATURE_SIZES,
    bf16_supported,
    default_device,
    load_encoder,
    load_tokenizer,
    miniature_config,
    resolve_model_path,
)
from .tokenizers import train_wordpiece_tokenizer
from .training import efficient_training_args

__all__ = [
    "BENCHMARKS",
    "DATA_DIR_ENV",
    "DEFAULT_PRETRAINED",
    "MINIATURE_SIZES",
    "bf16_supported",
    "data_dir",
    "default_device",
    "efficient_training_args",
    "embed",
    "load_benchmark",
    "load_encoder",
    "load_tokenizer",
    "mean_pool",
    "miniature_config",
    "resolve_model_path",
    "train_wordpiece_tokenizer",
]
