"""SetFit-style few-shot classification: contrastive fine-tuning of a sentence encoder, then logistic regression.

Pairs are sampled, not enumerated, so their number is bounded whatever the number of classes.
"""
from __future__ import annotations

import numpy as np
import torch

from greennlp.encoders.embedding import mean_pool
from greennlp.encoders.models import DEFAULT_PRETRAINED

from .base import check_number, count_trainable_parameters
from .embedding_methods import LinearProbe, fit_logistic_head
from .training import train_steps


def generate_pairs(labels: np.ndarray, num_pairs: int, seed: int) -> np.ndarray:
    """Sample ``num_pairs`` example pairs, half same-class (target 1) and half different-class (target 0).

    Anchors are drawn uniformly, so the cost is ``O(num_pairs)`` whatever the number of classes (enumerating
    all pairs grows with the square of the training set). When ``num_pairs`` exceeds the number of distinct
    pairs, pairs repeat. Returns an ``int64`` array of shape ``(num_pairs, 3)``: ``first, second, target``.
    """
    labels = np.asarray(labels)
    if num_pairs < 2:
        raise ValueError(f"num_pairs must be at least 2 (one positive, one negative), got {num_pairs}.")
    members = {label: np.flatnonzero(labels == label) for label in np.unique(labels)}
    if len(members) < 2:
        raise ValueError("Contrastive pairs need at least two classes.")
    can_pair = np.flatnonzero([len(members[label]) >= 2 for label in labels])
    if len(can_pair) == 0:
        raise ValueError("Contrastive pairs need at least one class with two or more examples (same-class pairs).")
    rng = np.random.default_rng(seed)
    num_positive = num_pairs // 2
    pairs = np.empty((num_pairs, 3), dtype=np.int64)
    for row in range(num_pairs):
        if row < num_positive:
            first = rng.choice(can_pair)
            same = members[labels[first]]
            second = rng.choice(same[same != first])
        else:
            first = rng.integers(len(labels))
            second = rng.integers(len(labels) - len(members[labels[first]]))
            second = np.flatnonzero(labels != labels[first])[second]
        pairs[row] = (first, second, int(row < num_positive))
    return pairs[rng.permutation(num_pairs)]


class ContrastiveClassifier(LinearProbe):
    """Contrastive fine-tuning on sampled pairs (cosine-similarity loss), then a logistic-regression head.

    This is the SetFit recipe (Tunstall et al. 2022) written on torch/transformers directly: the encoder is
    trained so that same-class pairs have cosine similarity 1 and different-class pairs 0; a logistic
    regression is then fitted on the new mean-pooled embeddings.

    Parameters
    ----------
    model_name_or_path : str
        A sentence encoder hub id or path (default ``encoders.models.DEFAULT_PRETRAINED``; SetFit's own default
        is ``sentence-transformers/paraphrase-mpnet-base-v2``).
    num_iterations : int
        SetFit's knob: each training example anchors ``num_iterations`` positive and as many negative pairs.
    max_pairs : int
        Upper bound on the number of pairs, whatever the training-set size or number of classes.
    num_epochs, learning_rate, batch_size : int, float, int
        Contrastive training settings (``batch_size`` counts pairs).
    C : float
        Inverse regularisation strength of the logistic-regression head.
    bf16 : bool or None
        bfloat16 autocast during contrastive training; ``None``: where the hardware runs it natively.
    text_column, label_column, seed, device, max_length
        See :class:`LinearProbe`.

    Examples
    --------
    >>> clf = ContrastiveClassifier("sentence-transformers/all-MiniLM-L6-v2").fit(train)  # doctest: +SKIP
    >>> clf.predict(["the battery dies in an hour"])                                      # doctest: +SKIP
    [0]

    Runnable offline, with a tiny random BERT saved as a local checkpoint in place of the pretrained encoder:

    >>> import tempfile
    >>> from greennlp.encoders import load_encoder, train_wordpiece_tokenizer
    >>> texts, labels = ["a good film", "a great plot", "a bad film", "a dull plot"] * 2, [1, 1, 0, 0] * 2
    >>> tokenizer = train_wordpiece_tokenizer(texts, vocab_size=100)
    >>> checkpoint = tempfile.TemporaryDirectory()
    >>> load_encoder("tiny", task="mlm", tokenizer=tokenizer, seed=0).save_pretrained(checkpoint.name)
    >>> _ = tokenizer.save_pretrained(checkpoint.name)
    >>> clf = ContrastiveClassifier(checkpoint.name, num_iterations=2, num_epochs=1).fit(texts, labels)
    >>> clf.predict_proba(["a good plot", "a dull film"]).shape, len(clf.pairs_)   # 8 texts x 2 iterations x 2
    ((2, 2), 32)
    >>> clf.num_trainable_parameters_ == sum(p.numel() for p in clf.encoder_.parameters()) + 129  # encoder, head
    True
    >>> checkpoint.cleanup()
    """

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_PRETRAINED,
        *,
        num_iterations: int = 20,
        max_pairs: int = 2000,
        num_epochs: int = 1,
        learning_rate: float = 2e-5,
        batch_size: int = 16,
        C: float = 1.0,
        bf16: bool | None = None,
        text_column: str = "text",
        label_column: str = "label",
        seed: int = 0,
        max_length: int = 256,
        device: str | None = None,
    ) -> None:
        super().__init__(model_name_or_path, C=C, text_column=text_column, label_column=label_column, seed=seed,
                         batch_size=batch_size, max_length=max_length, device=device)
        self.num_iterations = num_iterations
        self.max_pairs = max_pairs
        self.num_epochs = num_epochs
        self.learning_rate = learning_rate
        self.bf16 = bf16

    def _check_params(self) -> None:
        super()._check_params()
        name = type(self).__name__
        check_number(name, "num_iterations", self.num_iterations, integer=True, minimum=1)
        check_number(name, "max_pairs", self.max_pairs, integer=True, minimum=2)
        check_number(name, "num_epochs", self.num_epochs, integer=True, minimum=0)
        check_number(name, "learning_rate", self.learning_rate, above=0)

    def _fit(self, texts: list[str], labels: np.ndarray) -> None:
        self._load_encoder()
        num_pairs = min(2 * self.num_iterations * len(texts), self.max_pairs)
        self.pairs_ = generate_pairs(labels, num_pairs, self.seed)
        self.encoder_.train()
        train_steps(
            self.encoder_.parameters(), self._batches(self.pairs_), lambda pairs: self._pair_loss(texts, pairs),
            epochs=self.num_epochs, learning_rate=self.learning_rate, seed=self.seed, bf16=self.bf16,
        )
        self.encoder_.eval()
        self.head_ = fit_logistic_head(self._embed(texts), labels, self.C, self.seed)
        self.num_trainable_parameters_ = (
            count_trainable_parameters(self.encoder_) + self.head_.coef_.size + self.head_.intercept_.size
        )

    def _pair_loss(self, texts: list[str], pairs: np.ndarray) -> torch.Tensor:
        # Each distinct text of the batch is encoded once, however many pairs it appears in.
        unique, inverse = np.unique(pairs[:, :2], return_inverse=True)
        batch = self.tokenizer_(
            [texts[i] for i in unique], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.encoder_.device)
        vectors = mean_pool(self.encoder_(**batch).last_hidden_state, batch["attention_mask"])
        inverse = torch.from_numpy(inverse.reshape(-1, 2))
        similarity = torch.nn.functional.cosine_similarity(vectors[inverse[:, 0]], vectors[inverse[:, 1]]).float()
        target = torch.from_numpy(pairs[:, 2]).to(similarity)
        return torch.nn.functional.mse_loss(similarity, target)
