"""Efficient encoders: fast model construction, training settings, embeddings and benchmark data."""
from .benchmarks import BENCHMARKS, DATA_DIR_ENV, data_dir, load_benchmark
from .data import PaddingCollator, length_grouped_order, tokenize_dataset
from .embedding import embed, mean_pool
from .finetune import accuracy, fine_tune, predict_labels
from .models import (
    DEFAULT_PRETRAINED,
    MINIATURE_SIZES,
    bf16_supported,
    cpu_bf16_speedup,
    default_device,
    load_encoder,
    load_tokenizer,
    miniature_config,
    resolve_model_path,
)
from .quantization import model_size_mb, quantize_int8
from .tokenizers import train_wordpiece_tokenizer
from .training import efficient_training_args

__all__ = [
    "BENCHMARKS",
    "DATA_DIR_ENV",
    "DEFAULT_PRETRAINED",
    "MINIATURE_SIZES",
    "PaddingCollator",
    "accuracy",
    "bf16_supported",
    "cpu_bf16_speedup",
    "data_dir",
    "default_device",
    "efficient_training_args",
    "embed",
    "length_grouped_order",
    "fine_tune",
    "load_benchmark",
    "load_encoder",
    "load_tokenizer",
    "mean_pool",
    "miniature_config",
    "model_size_mb",
    "predict_labels",
    "quantize_int8",
    "resolve_model_path",
    "tokenize_dataset",
    "train_wordpiece_tokenizer",
]
