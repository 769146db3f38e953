"""Classifiers on sentence embeddings: a linear probe on a frozen encoder, and PERFECT-style class prototypes."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from greennlp.encoders import embed, load_tokenizer
from greennlp.encoders.models import DEFAULT_PRETRAINED, load_bare_encoder

from .base import FewShotClassifier, check_number, count_trainable_parameters
from .training import train_steps


class EmbeddingClassifier(FewShotClassifier):
    """Shared part: load an encoder and embed texts by mean pooling (:func:`encoders.embed`)."""

    def _load_encoder(self) -> None:
        self.tokenizer_ = load_tokenizer(self.model_name_or_path)
        self.encoder_ = load_bare_encoder(self.model_name_or_path, device=self._device())

    def _embed(self, texts: list[str]) -> np.ndarray:
        return embed(texts, self.encoder_, self.tokenizer_, batch_size=64, max_length=self.max_length)


class LinearProbe(EmbeddingClassifier):
    """Logistic regression on frozen, mean-pooled, L2-normalised sentence embeddings.

    Parameters
    ----------
    model_name_or_path : str
        Any hub id or local path of an encoder (default ``encoders.models.DEFAULT_PRETRAINED``,
        ``sentence-transformers/all-MiniLM-L6-v2``).
    C : float
        Inverse regularisation strength of the logistic regression.
    text_column, label_column, seed, device, batch_size
        See :class:`FewShotClassifier`.
    max_length : int
        Texts are truncated to this many tokens.

    Examples
    --------
    >>> probe = LinearProbe("sentence-transformers/all-MiniLM-L6-v2").fit(train)   # doctest: +SKIP
    >>> probe.predict_proba(["great phone"]).shape                                # doctest: +SKIP
    (1, 2)

    Runnable offline, with a tiny random BERT saved as a local checkpoint in place of the pretrained encoder:

    >>> import tempfile
    >>> from greennlp.encoders import load_encoder, train_wordpiece_tokenizer
    >>> texts, labels = ["a good film", "a great plot", "a bad film", "a dull plot"] * 2, [1, 1, 0, 0] * 2
    >>> tokenizer = train_wordpiece_tokenizer(texts, vocab_size=100)
    >>> checkpoint = tempfile.TemporaryDirectory()
    >>> load_encoder("tiny", task="mlm", tokenizer=tokenizer, seed=0).save_pretrained(checkpoint.name)
    >>> _ = tokenizer.save_pretrained(checkpoint.name)
    >>> probe = LinearProbe(checkpoint.name).fit(texts, labels)
    >>> probe.predict_proba(["a good plot"]).shape, probe.num_trainable_parameters_   # 128 weights and a bias
    ((1, 2), 129)
    >>> checkpoint.cleanup()
    """

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_PRETRAINED,
        *,
        C: float = 1.0,
        text_column: str = "text",
        label_column: str = "label",
        seed: int = 0,
        batch_size: int = 16,
        max_length: int = 256,
        device: str | None = None,
    ) -> None:
        super().__init__(model_name_or_path, text_column=text_column, label_column=label_column, seed=seed,
                         batch_size=batch_size, device=device)
        self.C = C
        self.max_length = max_length

    def _check_params(self) -> None:
        super()._check_params()
        check_number(type(self).__name__, "C", self.C, above=0)

    def _fit(self, texts: list[str], labels: np.ndarray) -> None:
        self._load_encoder()
        self.head_ = fit_logistic_head(self._embed(texts), labels, self.C, self.seed)
        self.num_trainable_parameters_ = self.head_.coef_.size + self.head_.intercept_.size

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.head_.predict_proba(self._embed(texts))


def fit_logistic_head(features: np.ndarray, labels: np.ndarray, C: float, seed: int) -> LogisticRegression:
    """The logistic-regression head shared by the probe and the contrastive method."""
    return LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(features, labels)


class PrototypeClassifier(EmbeddingClassifier):
    """Prompt-free nearest-prototype classification in embedding space (after PERFECT, Karimi Mahabadi et al. 2022).

    Each class is represented by a prototype (the normalised mean of its examples' embeddings); a text is
    scored by ``softmax(cosine(text, prototype) / temperature)``. With ``adapter=True`` a light residual
    bottleneck adapter on top of the frozen encoder and the prototypes themselves are trained with
    cross-entropy on those scores. Unlike PERFECT, the adapter sits on the pooled embedding rather than
    inside every transformer layer, so the encoder is run once per text and never back-propagated through.

    Parameters
    ----------
    model_name_or_path : str
        Any hub id or local path of an encoder (default ``encoders.models.DEFAULT_PRETRAINED``).
    adapter : bool
        Train the adapter and prototypes (``True``) or use class means as they are (``False``).
    adapter_size : int
        Bottleneck width of the adapter.
    temperature : float
        Softmax temperature on cosine similarities.
    num_epochs, learning_rate : int, float
        Adapter training settings (full-batch steps; ignored when ``adapter=False``).
    text_column, label_column, seed, device, batch_size, max_length
        See :class:`LinearProbe`.

    Examples
    --------
    >>> clf = PrototypeClassifier("sentence-transformers/all-MiniLM-L6-v2", adapter=True).fit(train)  # doctest: +SKIP

    Runnable offline, with a tiny random BERT saved as a local checkpoint in place of the pretrained encoder:

    >>> import tempfile
    >>> from greennlp.encoders import load_encoder, train_wordpiece_tokenizer
    >>> texts, labels = ["a good film", "a great plot", "a bad film", "a dull plot"] * 2, [1, 1, 0, 0] * 2
    >>> tokenizer = train_wordpiece_tokenizer(texts, vocab_size=100)
    >>> checkpoint = tempfile.TemporaryDirectory()
    >>> load_encoder("tiny", task="mlm", tokenizer=tokenizer, seed=0).save_pretrained(checkpoint.name)
    >>> _ = tokenizer.save_pretrained(checkpoint.name)
    >>> clf = PrototypeClassifier(checkpoint.name).fit(texts, labels)
    >>> tuple(clf.prototypes_.shape), clf.num_trainable_parameters_      # one prototype per class, nothing trained
    ((2, 128), 0)
    >>> clf = PrototypeClassifier(checkpoint.name, adapter=True, adapter_size=8, num_epochs=5).fit(texts, labels)
    >>> clf.num_trainable_parameters_                 # the adapter (128 -> 8 -> 128) and the 2 x 128 prototypes
    2440
    >>> checkpoint.cleanup()
    """

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_PRETRAINED,
        *,
        adapter: bool = False,
        adapter_size: int = 64,
        temperature: float = 0.05,
        num_epochs: int = 100,
        learning_rate: float = 1e-3,
        text_column: str = "text",
        label_column: str = "label",
        seed: int = 0,
        batch_size: int = 16,
        max_length: int = 256,
        device: str | None = None,
    ) -> None:
        super().__init__(model_name_or_path, text_column=text_column, label_column=label_column, seed=seed,
                         batch_size=batch_size, device=device)
        self.adapter = adapter
        self.adapter_size = adapter_size
        self.temperature = temperature
        self.num_epochs = num_epochs
        self.learning_rate = learning_rate
        self.max_length = max_length

    def _check_params(self) -> None:
        super()._check_params()
        name = type(self).__name__
        check_number(name, "temperature", self.temperature, above=0)
        check_number(name, "adapter_size", self.adapter_size, integer=True, minimum=1)
        check_number(name, "num_epochs", self.num_epochs, integer=True, minimum=0)
        check_number(name, "learning_rate", self.learning_rate, above=0)

    def _fit(self, texts: list[str], labels: np.ndarray) -> None:
        self._load_encoder()
        features = torch.from_numpy(self._embed(texts))
        targets = torch.from_numpy(labels)
        means = torch.stack([features[targets == c].mean(0) for c in range(self.num_classes_)])
        self.prototypes_ = torch.nn.Parameter(torch.nn.functional.normalize(means, dim=-1))
        self.adapter_ = ResidualAdapter(features.shape[1], self.adapter_size) if self.adapter else None
        if self.adapter:
            loss = torch.nn.CrossEntropyLoss()
            train_steps(
                [*self.adapter_.parameters(), self.prototypes_], batches=[(features, targets)],
                loss_fn=lambda batch: loss(self._logits(batch[0]), batch[1]),
                epochs=self.num_epochs, learning_rate=self.learning_rate, seed=self.seed, bf16=False,
            )
        self.prototypes_.requires_grad_(False)
        self.num_trainable_parameters_ = (
            count_trainable_parameters(self.adapter_) + self.prototypes_.numel() if self.adapter else 0
        )

    def _logits(self, features: torch.Tensor) -> torch.Tensor:
        if self.adapter_ is not None:
            features = self.adapter_(features)
        features = torch.nn.functional.normalize(features, dim=-1)
        prototypes = torch.nn.functional.normalize(self.prototypes_, dim=-1)
        return features @ prototypes.T / self.temperature

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        return torch.softmax(self._logits(torch.from_numpy(self._embed(texts))), dim=-1).numpy()


class ResidualAdapter(torch.nn.Module):
    """``x + up(relu(down(x)))``, initialised to the identity (``up`` starts at zero), as in Houlsby adapters."""

    def __init__(self, dim: int, bottleneck: int) -> None:
        super().__init__()
        self.down = torch.nn.Linear(dim, bottleneck)
        self.up = torch.nn.Linear(bottleneck, dim)
        torch.nn.init.zeros_(self.up.weight)
        torch.nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(torch.relu(self.down(x)))
