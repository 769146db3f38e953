"""Sentence embeddings with an on-disk cache, so that pruning the same texts twice embeds them once.

Files are ``.npy`` arrays (no pickle) keyed by a hash of the model name, the settings and every text, written
atomically, with a small JSON sidecar saying what they hold.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from greennlp._files import atomic_write
from greennlp.encoders import embed

CACHE_ENV = "GREENNLP_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$GREENNLP_CACHE_DIR/embeddings`` if set, else ``~/.cache/greennlp/embeddings``."""
    root = os.environ.get(CACHE_ENV)
    return (Path(root) if root else Path.home() / ".cache" / "greennlp") / "embeddings"


def embedding_key(texts: Sequence[str], model_name: str, max_length: int, normalize: bool) -> str:
    """A content hash: the same texts in the same order with the same model and settings give the same key."""
    digest = hashlib.sha256(f"{model_name}\x00{max_length}\x00{normalize}\x00{len(texts)}".encode())
    for text in texts:
        encoded = text.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()[:32]


def cached_embed(
    texts: Sequence[str],
    model_name: str,
    cache_dir: str | Path | None = None,
    batch_size: int = 64,
    max_length: int = 256,
    normalize: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """``encoders.embed`` (mean pooling) with the result cached under ``cache_dir`` as ``<key>.npy``.

    Parameters
    ----------
    texts : sequence of str
        The texts, embedded in order.
    model_name : str
        A hub id or local path (e.g. ``encoders.DEFAULT_PRETRAINED``); part of the cache key.
    cache_dir : str or Path, optional
        Folder of the cache; ``None`` uses :func:`default_cache_dir`.
    batch_size, max_length, normalize, progress
        Passed to ``encoders.embed``; ``progress`` shows a progress bar while embedding.

    Returns
    -------
    numpy.ndarray of shape (len(texts), dim), float32.
    """
    texts = list(texts)
    if not all(isinstance(text, str) for text in texts):
        raise TypeError("cached_embed needs a sequence of strings; found a non-string (None?) among the texts.")
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = embedding_key(texts, model_name, max_length, normalize)
    path = folder / f"{key}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    vectors = embed(texts, model_name, batch_size=batch_size, max_length=max_length, normalize=normalize,
                    progress=progress)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temporary: np.save(temporary, vectors, allow_pickle=False))  # ends in .npy
    about = {"model": model_name, "num_texts": len(texts), "shape": list(vectors.shape),
             "max_length": max_length, "normalize": normalize}
    atomic_write(folder / f"{key}.json", lambda temporary: Path(temporary).write_text(json.dumps(about, indent=1)))
    return vectors
