"""Sentence embeddings by mean pooling: the one shared helper behind prototype pruning, deduplication and few-shot
probes. A transformer encoder or a model2vec static model (a table of token vectors, orders of magnitude faster on
a CPU; ``pip install greennlp[static]``)."""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .data import length_sorted_batches
from .models import default_device, load_bare_encoder, load_tokenizer


def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each sequence over its real (non-padding) tokens."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


# A static model encodes at least this many texts per call: its batches cost no padding, only Python overhead.
_STATIC_BATCH = 1024
_MISSING_MODEL2VEC = ("embedding with a static model needs model2vec: `pip install greennlp[static]` (or "
                      "`pip install model2vec`).")


def is_static_model(model) -> bool:
    """Whether ``model`` is a model2vec static model: a ``model2vec.StaticModel`` or a folder it saved.

    A folder is recognised by model2vec's files (``model.safetensors``, ``tokenizer.json``) and its ``config.json``
    (``"model_type": "model2vec"``, as ``model2vec.distill`` writes) or ``modules.json`` (a sentence-transformers
    ``StaticEmbedding``, as ``StaticModel.save_pretrained`` writes). Reads two small JSON files; imports nothing.
    """
    if isinstance(model, (str, os.PathLike)):
        folder = Path(model)
        if not ((folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()):
            return False
        try:
            if (folder / "config.json").is_file():
                if json.loads((folder / "config.json").read_text()).get("model_type") == "model2vec":
                    return True
            if (folder / "modules.json").is_file():
                modules = json.loads((folder / "modules.json").read_text())
                return bool(modules) and str(modules[0].get("type", "")).endswith("StaticEmbedding") \
                    and modules[0].get("path") in (".", "", None)
        except (ValueError, AttributeError, TypeError, IndexError):
            return False
        return False
    return type(model).__name__ == "StaticModel" and type(model).__module__.startswith("model2vec")


def load_static_model(folder: str | os.PathLike):
    """Load a model2vec static model from a local ``folder`` (never from the hub)."""
    try:
        from model2vec import StaticModel
    except ImportError as error:
        raise ImportError(_MISSING_MODEL2VEC) from error
    if not is_static_model(folder):
        raise ValueError(f"{str(folder)!r} is not a model2vec static model folder (model.safetensors, tokenizer.json "
                         "and a model2vec config.json or modules.json); distil one with scripts/distill_static.py.")
    return StaticModel.from_pretrained(str(folder), force_download=False)


def _embed_static(texts: list[str], model, batch_size: int, max_length: int, normalize: bool,
                  progress: bool) -> np.ndarray:
    """Mean of the static token vectors of each text (model2vec's ``encode``), as float32, unit length on request."""
    if isinstance(model, (str, os.PathLike)):
        model = load_static_model(model)
    if not texts:
        return np.empty((0, model.dim), dtype=np.float32)
    vectors = model.encode(texts, max_length=max_length, normalize=False, batch_size=max(batch_size, _STATIC_BATCH),
                           show_progress_bar=progress).astype(np.float32)
    if normalize:
        # as torch.nn.functional.normalize: a text with no known token stays the zero vector
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


@torch.no_grad()
def embed(
    texts: Sequence[str],
    model: PreTrainedModel | str,
    tokenizer: PreTrainedTokenizerBase | None = None,
    batch_size: int = 64,
    max_length: int = 256,
    normalize: bool = True,
    progress: bool = False,
) -> np.ndarray:
    """Embed ``texts`` with ``model`` (a model or a hub id/path) by mean pooling; returns ``(len(texts), dim)``.

    Texts are sorted by length before batching so that little padding is computed, then returned in the
    input order. ``normalize=True`` L2-normalises the vectors (cosine similarity = dot product). A model object
    runs where it is; a model given by name is loaded on the GPU when torch sees one, else on the CPU.

    ``model`` may also be a model2vec static model, a ``model2vec.StaticModel`` or the local folder of one (see
    :func:`is_static_model`; ``pip install greennlp[static]``): each text is the mean of its tokens' static
    vectors, truncated to ``max_length`` tokens, with no forward pass. Such folders are read locally, never
    downloaded; ``tokenizer`` is not used.

    Parameters
    ----------
    texts : sequence of str
        The texts to embed.
    model : PreTrainedModel, str, os.PathLike or model2vec StaticModel
        An encoder (its base model's last hidden states are pooled), a hub id or local path of one, or a static
        model (above).
    tokenizer : PreTrainedTokenizerBase, optional
        Required with a model object; loaded with the model when it is given by name.
    batch_size : int
        Texts per forward pass (default 64); a static model encodes at least 1,024 texts per batch.
    max_length : int
        Each text is truncated to this many tokens (default 256).
    normalize : bool
        Scale every vector to unit L2 norm (default ``True``); a text with no known token stays the zero vector.
    progress : bool
        Show a progress bar over the batches (default ``False``).

    Examples
    --------
    >>> embed(["a moving film"], "sentence-transformers/all-MiniLM-L6-v2").shape   # doctest: +SKIP
    (1, 384)

    A model object needs its tokenizer; here BERT-tiny built from a config (its encoder's vectors, 128 wide):

    >>> from greennlp.encoders import load_encoder, train_wordpiece_tokenizer
    >>> tokenizer = train_wordpiece_tokenizer(["a good film", "a bad film"], vocab_size=100)
    >>> model = load_encoder("tiny", tokenizer=tokenizer, seed=0)
    >>> vectors = embed(["a good film", "a bad film", "film"], model, tokenizer)
    >>> vectors.shape, vectors.dtype.name, np.linalg.norm(vectors, axis=1).round(3).tolist()   # unit length
    ((3, 128), 'float32', [1.0, 1.0, 1.0])
    """
    if is_static_model(model):
        return _embed_static(list(texts), model, batch_size, max_length, normalize, progress)
    if isinstance(model, os.PathLike):
        model = str(model)
    if isinstance(model, str):
        tokenizer = tokenizer or load_tokenizer(model)
        model = load_bare_encoder(model).to(default_device())
    if tokenizer is None:
        raise ValueError("embed() needs `tokenizer=` when `model` is a model object rather than a name or path.")
    texts = list(texts)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    encoder = getattr(model, "base_model", model)
    output = None
    for index in tqdm(length_sorted_batches(texts, batch_size), disable=not progress, desc="embedding"):
        batch = tokenizer(
            [texts[i] for i in index], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(device)
        hidden = encoder(**batch).last_hidden_state
        vectors = mean_pool(hidden, batch["attention_mask"]).float()
        if normalize:
            vectors = torch.nn.functional.normalize(vectors, dim=-1)
        if output is None:
            output = np.empty((len(texts), vectors.shape[-1]), dtype=np.float32)
        output[index] = vectors.cpu().numpy()
    model.train(was_training)
    if output is None:
        return np.empty((0, 0), dtype=np.float32)
    return output
