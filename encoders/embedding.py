"""Sentence embeddings by mean pooling: the one shared helper behind prototype pruning and few-shot probes."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModel, PreTrainedModel, PreTrainedTokenizerBase

from .data import length_sorted_batches
from .models import load_tokenizer, resolve_model_path


def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each sequence over its real (non-padding) tokens."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


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
    input order. ``normalize=True`` L2-normalises the vectors (cosine similarity = dot product).
    """
    if isinstance(model, str):
        tokenizer = tokenizer or load_tokenizer(model)
        model = AutoModel.from_pretrained(resolve_model_path(model), attn_implementation="sdpa")
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
