"""Self-supervised prototype pruning (Sorscher et al. 2022): score each example by the cosine distance of its
embedding to the nearest k-means centroid, then keep the hard (far) or easy (near) ones.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasets import Dataset
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.utils.validation import check_is_fitted

from greennlp.encoders import embed
from greennlp.encoders.models import DEFAULT_PRETRAINED

from .embedding_cache import cached_embed
from .selection import select_by_score
from .stratified import select_stratified

# Above this many points per clustering, "auto" switches to MiniBatchKMeans.
MINIBATCH_ABOVE = 10_000


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def nearest_centroid_distance(embeddings: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distance (1 - cosine similarity) of each row to its nearest centroid, and that centroid's index."""
    similarity = _unit_rows(np.asarray(embeddings, dtype=np.float64)) @ _unit_rows(centroids).T
    nearest = similarity.argmax(axis=1)
    return 1.0 - similarity[np.arange(len(similarity)), nearest], nearest


class PrototypePruner(BaseEstimator):
    """Score examples by distance to the nearest k-means prototype in embedding space, then select.

    A scikit-learn estimator: options are keyword-only, stored as given and checked in ``fit``;
    ``sklearn.base.clone`` works, and using it before ``fit`` raises ``sklearn.exceptions.NotFittedError``.

    Parameters
    ----------
    encoder : str or transformers model
        Hub id or local path of a sentence encoder (mean pooling), or a model object (then pass
        ``tokenizer``). Default ``encoders.DEFAULT_PRETRAINED`` (all-MiniLM-L6-v2).
    n_clusters : int
        k of k-means, per class when ``per_class``. 10 is our untuned default for small text tasks; try a few
        values of k on your data.
    per_class : bool
        Cluster each class separately (labels from ``label_column`` or ``y``) instead of all examples at once.
    algorithm : {"auto", "kmeans", "minibatch"}
        ``KMeans``, ``MiniBatchKMeans``, or the latter above 10,000 points.
    text_column, label_column : str
        Columns read from a ``Dataset``.
    tokenizer : optional
        Needed only when ``encoder`` is a model object.
    batch_size, max_length : int
        Embedding batch size and truncation length.
    cache_dir : str, Path, None or False
        Where embeddings are cached (``None``: ``filters.embedding_cache.default_cache_dir()``; ``False``: no
        cache). Only named encoders are cached, since a model object may have changed since it was named.
    progress : bool
        Show a progress bar while embedding.
    random_state : int
        Seed of k-means; the same seed and data give the same scores.

    Attributes
    ----------
    scores_ : numpy.ndarray of shape (n_samples,)
        Cosine distance of each fitted example to its nearest centroid (higher = harder, less prototypical).
    clusters_ : numpy.ndarray of shape (n_samples,)
        Index of that centroid (within its class when ``per_class``).
    cluster_centers_ : numpy.ndarray or dict
        The centroids; a dict class -> centroids when ``per_class``.
    classes_ : numpy.ndarray
        The classes (``per_class`` only).
    n_features_in_ : int
        Embedding dimension.

    Examples
    --------
    >>> pruner = PrototypePruner(n_clusters=10).fit(train)              # doctest: +SKIP
    >>> hard_half = pruner.select(train, fraction=0.5, keep="hard")     # doctest: +SKIP
    >>> pruner.score_samples(["a new sentence"])                        # doctest: +SKIP
    array([0.31])

    With precomputed embeddings: two clusters of three points, each with one point on its prototype.

    >>> train = Dataset.from_dict({"text": list("abcdef"), "label": [1, 1, 1, 0, 0, 0]})
    >>> embeddings = np.array([[1, 0.1], [1, -0.1], [1, 0], [0.1, 1], [-0.1, 1], [0, 1]])
    >>> pruner = PrototypePruner(n_clusters=2).fit(embeddings)
    >>> (pruner.scores_ > 1e-3).tolist()                                # distance to the nearest prototype
    [True, True, False, True, True, False]
    >>> list(pruner.select(train, fraction=1 / 3, keep="easy")["text"])  # the most prototypical third
    ['c', 'f']
    >>> list(pruner.select(train, fraction=2 / 3, keep="hard")["text"])
    ['a', 'b', 'd', 'e']
    """

    def __init__(self, encoder=DEFAULT_PRETRAINED, *, n_clusters: int = 10, per_class: bool = False,
                 algorithm: str = "auto", text_column: str = "text", label_column: str = "label",
                 tokenizer=None, batch_size: int = 64, max_length: int = 256, cache_dir=None,
                 progress: bool = True, random_state: int = 0):
        self.encoder = encoder
        self.n_clusters = n_clusters
        self.per_class = per_class
        self.algorithm = algorithm
        self.text_column = text_column
        self.label_column = label_column
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.cache_dir = cache_dir
        self.progress = progress
        self.random_state = random_state

    # -- inputs ---------------------------------------------------------------------------------------------
    def _embeddings(self, X) -> np.ndarray:
        if isinstance(X, np.ndarray):
            if X.ndim != 2:
                raise ValueError(f"precomputed embeddings must be 2-D (n_samples, dim); got shape {X.shape}.")
            return X.astype(np.float64, copy=False)
        if isinstance(X, Dataset):
            if self.text_column not in X.column_names:
                raise ValueError(f"text_column={self.text_column!r} is not a column of the dataset; "
                                 f"columns: {X.column_names}.")
            texts = list(X[self.text_column])
        elif isinstance(X, Sequence) and not isinstance(X, str):
            texts = list(X)
        else:
            raise TypeError(f"fit/score_samples take a Dataset, a list of texts or an embedding array; got "
                            f"{type(X).__name__}.")
        if isinstance(self.encoder, str) and self.cache_dir is not False:
            vectors = cached_embed(texts, self.encoder, self.cache_dir, self.batch_size, self.max_length,
                                   progress=self.progress)
        else:
            vectors = embed(texts, self.encoder, tokenizer=self.tokenizer, batch_size=self.batch_size,
                            max_length=self.max_length, progress=self.progress)
        return vectors.astype(np.float64)

    def _labels(self, X, y, n_samples: int) -> np.ndarray | None:
        if not self.per_class:
            return None
        if y is None and isinstance(X, Dataset):
            if self.label_column not in X.column_names:
                raise ValueError(f"per_class=True needs labels: label_column={self.label_column!r} is not a "
                                 f"column of the dataset; columns: {X.column_names}.")
            y = X[self.label_column]
        if y is None:
            raise ValueError("per_class=True needs labels: pass y= (one per example) or a Dataset with a "
                             f"{self.label_column!r} column.")
        y = np.asarray(y)
        if len(y) != n_samples:
            raise ValueError(f"got {len(y)} labels for {n_samples} examples; give one label per example.")
        return y

    def _check_params(self) -> None:
        if self.algorithm not in ("auto", "kmeans", "minibatch"):
            raise ValueError(f"algorithm={self.algorithm!r}; choose 'auto', 'kmeans' or 'minibatch'.")
        if not isinstance(self.n_clusters, (int, np.integer)) or isinstance(self.n_clusters, bool) or self.n_clusters < 1:
            raise ValueError(f"n_clusters must be a positive integer; got {self.n_clusters!r}.")
        for name in ("batch_size", "max_length"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        for name in ("text_column", "label_column"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a column name (a string); got {getattr(self, name)!r}.")

    def _kmeans(self, n_points: int):
        minibatch = self.algorithm == "minibatch" or (self.algorithm == "auto" and n_points > MINIBATCH_ABOVE)
        if minibatch:
            return MiniBatchKMeans(self.n_clusters, batch_size=2048, n_init=3, random_state=self.random_state)
        return KMeans(self.n_clusters, n_init=3, random_state=self.random_state)

    def _cluster(self, embeddings: np.ndarray, where: str) -> np.ndarray:
        if len(embeddings) < self.n_clusters:
            raise ValueError(f"{where} has {len(embeddings)} examples, fewer than n_clusters={self.n_clusters}; "
                             "lower n_clusters (or use per_class=False).")
        # k-means on unit vectors, so that Euclidean clustering agrees with the cosine distance used for scores.
        return self._kmeans(len(embeddings)).fit(embeddings).cluster_centers_

    # -- estimator API --------------------------------------------------------------------------------------
    def fit(self, X, y=None) -> PrototypePruner:
        """Embed ``X`` (a Dataset, a list of texts, or an (n, dim) embedding array), cluster, and score.

        ``y``: class labels for ``per_class=True`` when ``X`` is not a Dataset with ``label_column``.
        """
        self._check_params()
        embeddings = _unit_rows(self._embeddings(X))
        labels = self._labels(X, y, len(embeddings))
        self.n_features_in_ = embeddings.shape[1]
        self.scores_ = np.empty(len(embeddings))
        self.clusters_ = np.empty(len(embeddings), dtype=np.int64)
        if labels is None:
            self.cluster_centers_ = self._cluster(embeddings, "the dataset")
            self.scores_, self.clusters_ = nearest_centroid_distance(embeddings, self.cluster_centers_)
            return self
        self.classes_ = np.unique(labels)
        self.cluster_centers_ = {}
        for label in self.classes_:
            rows = np.flatnonzero(labels == label)
            centers = self._cluster(embeddings[rows], f"class {label!r}")
            self.cluster_centers_[label.item() if hasattr(label, "item") else label] = centers
            self.scores_[rows], self.clusters_[rows] = nearest_centroid_distance(embeddings[rows], centers)
        return self

    def score_samples(self, X, y=None) -> np.ndarray:
        """Per-example scores of new examples: the cosine distance of each to its nearest fitted centroid (higher
        = less prototypical, as ``scores_``); ``y`` gives the classes when ``per_class``."""
        check_is_fitted(self, "scores_")
        embeddings = self._embeddings(X)
        if embeddings.shape[1] != self.n_features_in_:
            raise ValueError(f"embeddings have dimension {embeddings.shape[1]}; the pruner was fitted on "
                             f"{self.n_features_in_}.")
        labels = self._labels(X, y, len(embeddings))
        if labels is None:
            return nearest_centroid_distance(embeddings, self.cluster_centers_)[0]
        scores = np.empty(len(embeddings))
        for label in np.unique(labels):
            key = label.item() if hasattr(label, "item") else label
            if key not in self.cluster_centers_:
                raise ValueError(f"class {key!r} was not seen in fit; fitted classes: {list(self.cluster_centers_)}.")
            rows = np.flatnonzero(labels == label)
            scores[rows] = nearest_centroid_distance(embeddings[rows], self.cluster_centers_[key])[0]
        return scores

    def select(self, dataset: Dataset, fraction: float, *, keep: str = "hard", seed: int = 0,
               return_ids: bool = False, stratify: bool = False):
        """Keep ``fraction`` of the fitted ``dataset`` (exact, rounded half up).

        ``keep="hard"`` keeps the examples farthest from their prototype (Sorscher et al.: best when data is
        plentiful); ``keep="easy"`` keeps the nearest (best when data is scarce). ``stratify=True`` keeps the
        class proportions of ``label_column`` (see ``filters.select_stratified``). Returns a Dataset in the
        original row order, or the row positions with ``return_ids=True``.
        """
        check_is_fitted(self, "scores_")
        if keep not in ("hard", "easy"):
            raise ValueError(f"keep={keep!r}; choose 'hard' (far from prototypes) or 'easy' (near).")
        if len(dataset) != len(self.scores_):
            raise ValueError(f"the pruner was fitted on {len(self.scores_)} examples but the dataset has "
                             f"{len(dataset)} rows; select from the dataset you fitted on.")
        if stratify:
            return select_stratified(dataset, self.scores_, fraction, keep="highest" if keep == "hard" else "lowest",
                                     label_column=self.label_column, seed=seed, return_ids=return_ids)
        return select_by_score(dataset, self.scores_, fraction=fraction,
                               keep="highest" if keep == "hard" else "lowest", seed=seed, return_ids=return_ids)
