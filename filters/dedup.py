"""Semantic deduplication (SemDeDup, Abbas et al. 2023): drop the texts whose sentence embedding repeats an earlier
kept text's, and D4 (Tirumala et al. 2023): deduplication, then prototype pruning of what is left.

The decision is the exact greedy one, in a stated order: k-means cells only prune which pairs are compared (a pair
close enough to count is never in cells too far apart to be checked). Capping the cells each text is compared with
(``n_probe``, the default above 131,072 texts) trades that guarantee for time linear in the number of texts.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
from datasets import Dataset
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from greennlp.encoders import embed
from greennlp.encoders.models import DEFAULT_PRETRAINED

from .embedding_cache import cached_embed

#: Cosine similarities are computed in float32; a pair counts when it is within this of the threshold, so that
#: identical texts (similarity 1 up to rounding) are duplicates at ``threshold=1``.
SIMILARITY_TOLERANCE = 1e-5
# At most this many texts are compared at once (one block of the visiting order).
_BLOCK = 1024
# At most this many earlier kept texts per matrix product, so a block's similarities stay within 256 MB.
_COLUMNS = 65_536
# "auto" compares every pair up to this many texts (about a minute of one CPU core for 256 dimensions), then
# partitions them into cells of about _CELL texts and compares each text with its _PROBE nearest cells.
_EXACT_UP_TO = 131_072
_CELL = 16_384
_PROBE = 4
# k-means of the partition is fitted on at most this many texts (a sample), then every text is assigned.
_CELL_SAMPLE = 20_000


def _unit_float32(embeddings: np.ndarray) -> np.ndarray:
    vectors = np.array(embeddings, dtype=np.float32, copy=True, order="C")
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


def _cells(vectors: np.ndarray, n_cells: int, threshold: float, random_state: int, n_probe: int | None = None):
    """Partition by k-means and list, for each text, every cell that can hold a near-duplicate of it.

    A text's home is its nearest centroid. A text ``i`` at Euclidean distance at most ``r`` from a text ``j`` of
    another cell lies within ``r`` of the hyperplane that bisects the two centroids (the segment from ``i`` to
    ``j`` crosses it), so a cell whose bisector is farther than ``r`` from ``i`` holds no near-duplicate of ``i``.
    For unit vectors, cosine similarity ``>= threshold`` is distance ``<= sqrt(2 - 2 threshold)``.

    With ``n_probe``, only the ``n_probe`` nearest of those cells (by distance to the bisector; the home first)
    are listed, which may miss near-duplicates.

    Returns ``home`` (n,), the CSR pair ``(starts, cells)``: text ``i`` must be compared with the texts of
    ``cells[starts[i]:starts[i + 1]]`` (its home first), and ``complete``: whether no text lost a reachable cell
    to ``n_probe``.
    """
    n = len(vectors)
    sample = vectors
    if n > _CELL_SAMPLE:
        sample = vectors[np.sort(np.random.default_rng(random_state).choice(n, _CELL_SAMPLE, replace=False))]
    centroids = KMeans(n_cells, n_init=1, max_iter=50, random_state=random_state).fit(sample)
    centroids = centroids.cluster_centers_.astype(np.float64)
    # slack for float32 rounding of the vectors and the distances below
    radius = math.sqrt(max(2.0 - 2.0 * (threshold - SIMILARITY_TOLERANCE), 0.0)) + 1e-4
    squared_norms = (centroids ** 2).sum(1)
    gaps = np.sqrt(np.maximum(squared_norms[:, None] + squared_norms[None, :] - 2 * centroids @ centroids.T, 0))
    home = np.empty(n, dtype=np.int64)
    starts, cells = [np.zeros(1, dtype=np.int64)], []
    offset, complete = 0, True
    for begin in range(0, n, _BLOCK):
        block = vectors[begin:begin + _BLOCK].astype(np.float64)
        squared = np.maximum((block ** 2).sum(1)[:, None] - 2 * block @ centroids.T + squared_norms[None, :], 0)
        nearest = squared.argmin(1)
        home[begin:begin + len(block)] = nearest
        # distance of each text to the bisector of its home and each other centroid
        margin = (squared - squared[np.arange(len(block)), nearest][:, None]) / np.maximum(2 * gaps[nearest], 1e-12)
        margin[np.arange(len(block)), nearest] = -1.0  # home first: sorts before every other cell
        reachable = margin <= radius
        if n_probe is not None and (reachable.sum(1) > n_probe).any():
            complete = False
            ranked = np.argsort(margin, axis=1, kind="stable")[:, :n_probe]
            capped = np.zeros_like(reachable)
            np.put_along_axis(capped, ranked, True, axis=1)
            reachable &= capped
        rows, columns = np.nonzero(reachable)
        order = np.lexsort((margin[rows, columns], rows))
        cells.append(columns[order])
        offset += len(rows)
        starts.append(offset - len(rows) + np.cumsum(reachable.sum(1)))
    return home, np.concatenate(starts), np.concatenate(cells), complete


def semantic_duplicates(embeddings: np.ndarray, threshold: float, *, order: np.ndarray | None = None,
                        n_cells: int = 1, n_probe: int | None = None, random_state: int = 0,
                        progress: bool = False):
    """The exact greedy semantic deduplication of ``embeddings``: a pure function (numpy in, numpy out).

    Texts are visited in ``order`` (default: as given). A text is a duplicate when its cosine similarity to an
    earlier visited text that was kept is at least ``threshold`` (within ``SIMILARITY_TOLERANCE``); it then
    repeats the earliest visited such text. Otherwise it is kept. A zero vector (a text with no known token) has
    similarity 0 with everything and is always kept.

    ``n_cells > 1`` partitions the vectors by k-means (fitted with ``random_state`` on a sample) and compares each
    text only with the cells that can hold a near-duplicate of it (see :func:`_cells`): the same answer as one
    cell. ``n_probe`` caps those cells at the nearest few (SemDeDup's approximation, which compares within a cell
    only, is ``n_probe=1``): near-duplicates across the cut are missed, so a few more texts are kept, but every
    dropped text still repeats a kept one. Memory is linear in the number of texts: similarities are computed a
    block of texts at a time.

    Returns
    -------
    keep : numpy.ndarray of bool, shape (n,)
    duplicate_of : numpy.ndarray of int64, shape (n,)
        The index of the kept text each duplicate repeats; -1 for kept texts.
    exact : bool
        Whether every pair that could be near-duplicates was compared (False only when ``n_probe`` cut a cell).
    """
    vectors = _unit_float32(embeddings)
    n = len(vectors)
    order = np.arange(n) if order is None else np.asarray(order, dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    duplicate_of = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return keep, duplicate_of, True
    # never at or below 0, so that a zero vector repeats nothing even at a tiny threshold
    bound = np.float32(max(threshold - SIMILARITY_TOLERANCE, threshold / 2))
    if n_cells > 1:
        home, starts, cells, exact = _cells(vectors, n_cells, threshold, random_state, n_probe)
    else:
        home, starts, cells, exact = np.zeros(n, dtype=np.int64), np.arange(n + 1), np.zeros(n, dtype=np.int64), True
    n_cells = int(home.max()) + 1
    # the kept texts of each cell, in visiting order: their vectors (filled in place) and their visiting ranks
    sizes = np.bincount(home, minlength=n_cells)
    kept_vectors = [np.empty((size, vectors.shape[1]), dtype=np.float32) for size in sizes]
    kept_ranks = [np.empty(size, dtype=np.int64) for size in sizes]
    kept_count = np.zeros(n_cells, dtype=np.int64)
    bar = tqdm(total=n, disable=not progress, desc="deduplicating", unit="text")
    for begin in range(0, n, _BLOCK):
        texts = order[begin:begin + _BLOCK]
        bar.update(len(texts))
        block = vectors[texts]
        # earliest visiting rank of a kept near-duplicate among the texts visited before this block
        earliest = np.full(len(texts), np.iinfo(np.int64).max)
        lengths = starts[texts + 1] - starts[texts]
        rows = np.repeat(np.arange(len(texts)), lengths)
        # the cells of every text of the block, flattened: cells[starts[t]:starts[t + 1]] for each text t
        within = np.arange(len(rows)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        wanted = cells[np.repeat(starts[texts], lengths) + within]
        by_cell = np.argsort(wanted, kind="stable")
        bounds = np.flatnonzero(np.diff(wanted[by_cell])) + 1
        for group in np.split(by_cell, bounds):
            cell = wanted[group[0]]
            count = kept_count[cell]
            if count == 0:
                continue
            members = rows[group]
            for column in range(0, count, _COLUMNS):
                end = min(column + _COLUMNS, count)
                similar = block[members] @ kept_vectors[cell][column:end].T >= bound
                hit = similar.any(1)
                if hit.any():
                    first = kept_ranks[cell][column + similar[hit].argmax(1)]  # ranks ascend: first hit = earliest
                    earliest[members[hit]] = np.minimum(earliest[members[hit]], first)
        # within the block, in visiting order
        inside = np.tril(block @ block.T >= bound, k=-1)
        for position in range(len(texts)):
            text = texts[position]
            if earliest[position] != np.iinfo(np.int64).max:
                keep[text], duplicate_of[text] = False, order[earliest[position]]
                continue
            earlier = np.flatnonzero(inside[position, :position] & keep[texts[:position]])
            if len(earlier):
                keep[text], duplicate_of[text] = False, texts[earlier[0]]
                continue
            cell = home[text]
            kept_vectors[cell][kept_count[cell]] = block[position]
            kept_ranks[cell][kept_count[cell]] = begin + position
            kept_count[cell] += 1
    bar.close()
    return keep, duplicate_of, exact


class SemanticDeduplicator(BaseEstimator):
    """Drop near-duplicate texts by the cosine similarity of their sentence embeddings (SemDeDup).

    The rule, exact and deterministic: texts are visited in order (the input order, or by ``priority`` in
    :meth:`fit`); a text is a near-duplicate when its cosine similarity to an earlier visited text that was kept
    is at least ``threshold``, and then repeats the earliest visited such text; otherwise it is kept. So the
    first text of each group is kept, no two kept texts are near-duplicates, and every dropped text has a kept
    near-duplicate. Similarities are computed in float32: a pair within ``1e-5`` of the threshold counts.

    Up to 131,072 texts every pair is compared (exact), a block of texts at a time. Above that, by default, the
    texts are partitioned by k-means into cells of about 16,384 and each text is compared with its 4 nearest cells
    only, so the time grows linearly with the number of texts; a pair split across farther cells is missed
    (``exact_`` says whether any could have been). Memory grows linearly with the number of texts, never with
    its square.

    A scikit-learn estimator: options are stored as given and checked in ``fit``; ``sklearn.base.clone`` works.

    Parameters
    ----------
    threshold : float
        Cosine similarity in (0, 1] at or above which two texts are near-duplicates. 1 drops only texts embedded
        identically (e.g. identical texts).
    encoder : str, path, transformers model or model2vec StaticModel, optional
        A sentence encoder (hub id or local folder, mean pooling) or a model2vec static model (a
        ``StaticModel`` or its folder; ``pip install greennlp[static]``, much faster on a CPU). ``None``: the
        default, all-MiniLM-L6-v2.
    n_cells : int or "auto"
        Cells of the k-means partition. ``"auto"``: one (every pair compared) up to 131,072 texts, else one per
        16,384 texts. With ``n_probe=None`` it changes only the time taken, never the answer.
    n_probe : int, None or "auto"
        Cells each text is compared with, nearest first (its own first). ``None``: every cell that can hold a
        near-duplicate of it (exact). ``"auto"``: ``None`` up to 131,072 texts, else 4.
    text_column : str
        Column read from a ``Dataset``.
    tokenizer : optional
        Needed only when ``encoder`` is a transformers model object.
    batch_size, max_length : int
        Embedding batch size and truncation length (tokens).
    cache_dir : str, Path, None or False
        Where embeddings of a named encoder are cached (as :class:`PrototypePruner`'s); ``False``: no cache.
    progress : bool
        Show progress bars while embedding and deduplicating.
    random_state : int
        Seed of the partition's k-means and of :meth:`select`'s pruning.

    Attributes
    ----------
    keep_ : numpy.ndarray of bool, shape (n_samples,)
        False for a near-duplicate of a kept text.
    duplicate_of_ : numpy.ndarray of int, shape (n_samples,)
        Index of the kept text each near-duplicate repeats; -1 for kept texts.
    embeddings_ : numpy.ndarray of shape (n_samples, dim)
        The unit-length embeddings of the fitted texts (float32), reused by :meth:`select`.
    n_features_in_ : int
        Embedding dimension.
    exact_ : bool
        True when every pair of texts that could be near-duplicates was compared: then no two kept texts are
        near-duplicates. False when ``n_probe`` left some out (a few near-duplicates may be kept).
    removed_ : dict
        Set by :meth:`select`: the fraction of all fitted rows each step removed, ``{"duplicates": ...,
        "prototypes": ...}``.

    Examples
    --------
    >>> dedup = SemanticDeduplicator(threshold=0.95).fit(train)           # doctest: +SKIP
    >>> dedup.keep_.mean(), dedup.duplicate_of_[:5]                       # doctest: +SKIP
    (0.61, array([-1, -1,  0, -1,  3]))
    >>> deduplicated = dedup.transform(train)                             # doctest: +SKIP
    >>> d4 = dedup.select(train, fraction=0.5, keep="hard")               # doctest: +SKIP
    >>> dedup.removed_                                                    # doctest: +SKIP
    {'duplicates': 0.39, 'prototypes': 0.11}

    With precomputed embeddings (what ``fit`` computes from the texts): the second text repeats the first.

    >>> train = Dataset.from_dict({"text": ["a gripping film", "a gripping film!", "a dull plot", "a long plot"]})
    >>> embeddings = np.array([[1.0, 0.0], [0.99, 0.05], [0.0, 1.0], [0.6, 0.8]])
    >>> dedup = SemanticDeduplicator(threshold=0.95).fit(embeddings)   # cosine 0.999, 0.8, ...
    >>> dedup.keep_.tolist(), dedup.duplicate_of_.tolist()
    ([True, False, True, True], [-1, 0, -1, -1])
    >>> list(dedup.transform(train)["text"])
    ['a gripping film', 'a dull plot', 'a long plot']
    """

    def __init__(self, threshold: float = 0.95, encoder=None, *, n_cells="auto", n_probe="auto",
                 text_column: str = "text",
                 tokenizer=None, batch_size: int = 64, max_length: int = 256, cache_dir=None, progress: bool = True,
                 random_state: int = 0):
        self.threshold = threshold
        self.encoder = encoder
        self.n_cells = n_cells
        self.n_probe = n_probe
        self.text_column = text_column
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.cache_dir = cache_dir
        self.progress = progress
        self.random_state = random_state

    # -- inputs ---------------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, numbers.Real) \
                or not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be a cosine similarity in (0, 1]; got {self.threshold!r}.")
        if self.n_cells != "auto" and (not isinstance(self.n_cells, (int, np.integer))
                                       or isinstance(self.n_cells, bool) or self.n_cells < 1):
            raise ValueError(f"n_cells must be 'auto' or a positive integer; got {self.n_cells!r}.")
        if self.n_probe not in ("auto", None) and (not isinstance(self.n_probe, (int, np.integer))
                                                   or isinstance(self.n_probe, bool) or self.n_probe < 1):
            raise ValueError(f"n_probe must be 'auto', None or a positive integer; got {self.n_probe!r}.")
        for name in ("batch_size", "max_length"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        if not isinstance(self.text_column, str):
            raise ValueError(f"text_column must be a column name (a string); got {self.text_column!r}.")

    def _texts(self, X) -> list[str]:
        if isinstance(X, Dataset):
            if self.text_column not in X.column_names:
                raise ValueError(f"text_column={self.text_column!r} is not a column of the dataset; "
                                 f"columns: {X.column_names}.")
            texts = list(X[self.text_column])
        elif isinstance(X, str) or not isinstance(X, Sequence) and not hasattr(X, "__iter__"):
            raise TypeError(f"fit takes a Dataset, a list of texts (or a dataset column) or an embedding array; got "
                            f"{type(X).__name__}.")
        else:
            texts = list(X)
        bad = [i for i, text in enumerate(texts) if not isinstance(text, str)]
        if bad:
            raise TypeError(f"every text must be a string; text {bad[0]} is {texts[bad[0]]!r} "
                            f"({len(bad)} non-strings in all). Drop or fill the missing texts first.")
        return texts

    def _embeddings(self, X) -> np.ndarray:
        if isinstance(X, np.ndarray) and X.dtype.kind in "fiu":
            if X.ndim != 2:
                raise ValueError(f"precomputed embeddings must be 2-D (n_samples, dim); got shape {X.shape}.")
            return X
        texts = self._texts(X)
        if not texts:
            raise ValueError("fit got no texts; give at least one.")
        encoder = DEFAULT_PRETRAINED if self.encoder is None else self.encoder
        if isinstance(encoder, str) and self.cache_dir is not False:
            return cached_embed(texts, encoder, self.cache_dir, self.batch_size, self.max_length,
                                progress=self.progress)
        return embed(texts, encoder, tokenizer=self.tokenizer, batch_size=self.batch_size,
                     max_length=self.max_length, progress=self.progress)

    # -- estimator API --------------------------------------------------------------------------------------
    def fit(self, X, y=None, *, priority=None) -> SemanticDeduplicator:
        """Embed ``X`` and find its near-duplicates.

        Parameters
        ----------
        X : Dataset, list of str, dataset column or numpy.ndarray
            The texts (a ``Dataset`` is read at ``text_column``), or their embeddings, shape (n, dim).
        y : ignored
        priority : array-like of float, optional
            One score per text: texts are visited from the highest priority to the lowest (ties in input order),
            so the highest-priority text of each group is the one kept (e.g. the text length, or a quality
            score). Default: the input order, so the first text of each group is kept.
        """
        self._check_params()
        vectors = self._embeddings(X)
        n = len(vectors)
        if n == 0:
            raise ValueError("fit got no texts; give at least one.")
        order = None
        if priority is not None:
            priority = np.asarray(priority, dtype=np.float64)
            if priority.shape != (n,) or not np.isfinite(priority).all():
                raise ValueError(f"priority must hold one finite number per text ({n}); got shape {priority.shape}"
                                 + ("" if priority.shape != (n,) else " with NaN or infinite values") + ".")
            order = np.argsort(-priority, kind="stable")
        large = n > _EXACT_UP_TO
        n_cells = (max(n // _CELL, 2) if large else 1) if self.n_cells == "auto" else min(int(self.n_cells), n)
        n_probe = (_PROBE if large else None) if self.n_probe == "auto" else self.n_probe
        self.embeddings_ = _unit_float32(vectors)
        self.n_features_in_ = self.embeddings_.shape[1]
        self.keep_, self.duplicate_of_, self.exact_ = semantic_duplicates(
            self.embeddings_, float(self.threshold), order=order, n_cells=n_cells, n_probe=n_probe,
            random_state=self.random_state, progress=self.progress)
        return self

    def _check_dataset(self, dataset) -> None:
        check_is_fitted(self, "keep_")
        if not isinstance(dataset, Dataset):
            raise TypeError(f"expected the datasets.Dataset that was fitted; got {type(dataset).__name__}.")
        if len(dataset) != len(self.keep_):
            raise ValueError(f"the deduplicator was fitted on {len(self.keep_)} texts but the dataset has "
                             f"{len(dataset)} rows; transform the dataset you fitted on.")

    def transform(self, dataset: Dataset) -> Dataset:
        """The fitted ``dataset`` without its near-duplicates: kept rows, all columns, in their original order."""
        self._check_dataset(dataset)
        return dataset.select(np.flatnonzero(self.keep_))

    def fit_transform(self, dataset: Dataset, y=None, *, priority=None) -> Dataset:
        """:meth:`fit` then :meth:`transform` on one ``Dataset``."""
        return self.fit(dataset, priority=priority).transform(dataset)

    def select(self, dataset: Dataset, fraction: float | None = None, *, keep: str = "hard", n_clusters: int = 10,
               return_ids: bool = False):
        """D4 (Tirumala et al. 2023): the deduplicated ``dataset``, then prototype pruning down to ``fraction`` of
        all its rows.

        Pruning is :class:`PrototypePruner`'s on the kept rows' embeddings (no second embedding pass): k-means
        with ``n_clusters`` and ``random_state``, then the ``keep="hard"`` (far from their prototype) or
        ``"easy"`` rows. ``fraction=None`` only deduplicates. Sets ``removed_``, the fraction of all rows each step
        removed. Returns a Dataset in the original row order, or the row positions with ``return_ids=True``.
        """
        from .prototypes import PrototypePruner

        self._check_dataset(dataset)
        kept = np.flatnonzero(self.keep_)
        removed_duplicates = 1 - len(kept) / len(self.keep_)
        if fraction is None:
            rows = kept
        else:
            if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < fraction <= 1:
                raise ValueError(f"fraction={fraction!r}; give the share of all rows to keep, in (0, 1].")
            wanted = math.floor(fraction * len(self.keep_) + 0.5)
            if wanted > len(kept):
                raise ValueError(f"fraction={fraction} asks for {wanted} rows but deduplication kept {len(kept)}; "
                                 f"ask for at most {len(kept) / len(self.keep_):.4f}, or lower the threshold less.")
            pruner = PrototypePruner(n_clusters=min(n_clusters, len(kept)), progress=False,
                                     random_state=self.random_state).fit(self.embeddings_[kept])
            positions = pruner.select(Dataset.from_dict({"row": kept}), fraction=wanted / len(kept), keep=keep,
                                      seed=self.random_state, return_ids=True)
            rows = np.sort(kept[np.asarray(positions, dtype=np.int64)])
        self.removed_ = {"duplicates": removed_duplicates, "prototypes": (len(kept) - len(rows)) / len(self.keep_)}
        return rows if return_ids else dataset.select(rows)
