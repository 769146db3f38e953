"""Semantic deduplication at corpus scale, on the embedding shards that :class:`EmbeddingWriter` wrote for prototype
pruning: a corpus is embedded once and deduplicated and pruned from the same shards.

The decisions are :class:`greennlp.filters.SemanticDeduplicator`'s on the same documents in shard order (the same
function decides), so the kept ids equal what the deduplicator keeps on the corpus read in that order.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ._requirements import MISSING_DATATROVE
from .prototypes import _EMBEDDINGS_WRITER, _about, _read_embeddings
from .shards import EMBEDDINGS, read_run, repeated_ids

try:
    import datatrove  # noqa: F401  # the shards come from a datatrove pipeline; say so early when it is missing
except ImportError as error:  # pragma: no cover - exercised by a test that hides datatrove
    raise ImportError(MISSING_DATATROVE) from error


def deduplicate_shards(embeddings_folder: str | os.PathLike, *, threshold: float = 0.95, n_cells="auto",
                       n_probe="auto", random_state: int = 0, progress: bool = False):
    """Find the semantic near-duplicates of a whole corpus from its :class:`EmbeddingWriter` shards, on this machine.

    Documents are visited in shard order (shards by name, i.e. by task rank, then in the order each task read
    them); a document is a near-duplicate when its cosine similarity to an earlier kept document is at least
    ``threshold``, and repeats the earliest such one (the rule of
    :class:`~greennlp.filters.SemanticDeduplicator`, whose options ``n_cells``, ``n_probe`` and
    ``random_state`` these are). Reads every embedding into memory (4 bytes per dimension per document) and
    never a matrix of all pairs.

    Parameters
    ----------
    embeddings_folder : path
        The :class:`EmbeddingWriter` output folder. Only its last run's shards are read, and the folder is refused
        (naming the files) when that run is unfinished, a shard is damaged, the shards were embedded differently,
        or a document id occurs twice.
    threshold : float
        Cosine similarity in (0, 1] at or above which two documents are near-duplicates.
    n_cells, n_probe, random_state, progress
        As :class:`~greennlp.filters.SemanticDeduplicator`'s.

    Returns
    -------
    pandas.DataFrame
        Indexed by document ``id``, in shard order, with the columns ``keep`` (bool) and ``duplicate_of`` (the id
        of the kept document each near-duplicate repeats; ``None`` for kept documents). ``frame.attrs`` holds
        ``exact`` (as ``SemanticDeduplicator.exact_``), ``threshold`` and the shards' ``embeddings`` settings.
        Keep the documents with datatrove's ``LambdaFilter(lambda doc: kept[doc.id])``, ``kept =
        frame["keep"].to_dict()``.

    Examples
    --------
    >>> decisions = deduplicate_shards("embeddings/", threshold=0.95)                   # doctest: +SKIP
    >>> decisions["keep"].mean()                                                       # doctest: +SKIP
    0.61
    """
    import pandas as pd
    import pyarrow as pa

    from greennlp.filters import SemanticDeduplicator

    shards = read_run(embeddings_folder, kind=EMBEDDINGS, writer=_EMBEDDINGS_WRITER)
    abouts = [_about(shard.path) for shard in shards]
    if any(about != abouts[0] for about in abouts):
        raise ValueError(f"the shards under {str(embeddings_folder)!r} were embedded differently "
                         f"({sorted({json.dumps(about, sort_keys=True) for about in abouts})}); embed the corpus "
                         "with one encoder and one max_length.")
    ids, parts = [], []
    for shard in shards:
        shard_ids, vectors = _read_embeddings(shard.path)
        ids += shard_ids
        parts.append(vectors)
    repeated = repeated_ids(pa.array(ids, pa.string()))
    if repeated:
        raise ValueError(f"document ids such as {repeated[:3]} occur more than once in the embedding shards under "
                         f"{str(embeddings_folder)!r}; give every document a unique id, and read each input once.")
    if not ids:
        raise ValueError(f"the embedding shards under {str(embeddings_folder)!r} hold no document.")
    dedup = SemanticDeduplicator(threshold, n_cells=n_cells, n_probe=n_probe, random_state=random_state,
                                 progress=progress).fit(np.concatenate(parts))
    duplicate_of = [ids[j] if j >= 0 else None for j in dedup.duplicate_of_]
    index = pd.Index(ids, name="id")
    frame = pd.DataFrame({"keep": dedup.keep_, "duplicate_of": pd.Series(duplicate_of, index=index, dtype=object)},
                         index=index)
    frame.attrs.update(exact=bool(dedup.exact_), threshold=float(threshold), embeddings=abouts[0])
    return frame
