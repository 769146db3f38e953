"""Standard fine-tuning with a classification head: the baseline every few-shot paper reports."""
from __future__ import annotations

import numpy as np
from datasets import Dataset

from greennlp.encoders import fine_tune, load_encoder, load_tokenizer
from greennlp.encoders.finetune import predict_proba
from greennlp.encoders.models import DEFAULT_PRETRAINED

from .base import FewShotClassifier, check_number, count_trainable_parameters


class HeadClassifier(FewShotClassifier):
    """Fine-tune the whole encoder with a new sequence-classification head (``AutoModelForSequenceClassification``).

    Training runs through the project's one fine-tuning path, :func:`greennlp.encoders.fine_tune`, so these
    numbers compare with every other fine-tuning result of the toolkit.

    Parameters
    ----------
    model_name_or_path : str
        Any hub id or local path of an encoder checkpoint (default ``encoders.models.DEFAULT_PRETRAINED``).
    num_epochs, learning_rate, batch_size, weight_decay : int, float, int, float
        Fine-tuning settings (the usual few-shot fine-tuning baseline: the whole model, a few dozen steps).
    warmup : float
        Linear warm-up, a fraction of the steps (below 1) or a number of steps, as in ``fine_tune``.
    bf16 : bool or None
        bfloat16 mixed precision; ``None`` keeps :func:`encoders.efficient_training_args`' choice (where native).
    text_column, label_column, seed, device, max_length
        See :class:`FewShotClassifier`; ``max_length`` truncates the texts (in tokens).

    Examples
    --------
    >>> clf = HeadClassifier("sentence-transformers/all-MiniLM-L6-v2").fit(train)   # doctest: +SKIP
    >>> clf.predict(["a moving film"])                                              # doctest: +SKIP
    [1]

    Runnable offline, with a tiny random BERT saved as a local checkpoint in place of the pretrained encoder:

    >>> import tempfile
    >>> from greennlp.encoders import train_wordpiece_tokenizer
    >>> texts, labels = ["a good film", "a great plot", "a bad film", "a dull plot"] * 2, [1, 1, 0, 0] * 2
    >>> tokenizer = train_wordpiece_tokenizer(texts, vocab_size=100)
    >>> checkpoint = tempfile.TemporaryDirectory()
    >>> load_encoder("tiny", task="mlm", tokenizer=tokenizer, seed=0).save_pretrained(checkpoint.name)
    >>> _ = tokenizer.save_pretrained(checkpoint.name)
    >>> clf = HeadClassifier(checkpoint.name, num_epochs=1).fit(texts, labels)
    >>> clf.classes_.tolist(), clf.predict_proba(["a good plot", "a dull film"]).shape
    ([0, 1], (2, 2))
    >>> clf.num_trainable_parameters_ == sum(p.numel() for p in clf.model_.parameters())   # the whole model
    True
    >>> checkpoint.cleanup()
    """

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_PRETRAINED,
        *,
        num_epochs: int = 10,
        learning_rate: float = 2e-5,
        batch_size: int = 8,
        weight_decay: float = 0.01,
        warmup: float = 0.1,
        bf16: bool | None = None,
        text_column: str = "text",
        label_column: str = "label",
        seed: int = 0,
        max_length: int = 256,
        device: str | None = None,
    ) -> None:
        super().__init__(model_name_or_path, text_column=text_column, label_column=label_column, seed=seed,
                         batch_size=batch_size, device=device)
        self.num_epochs = num_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.bf16 = bf16
        self.max_length = max_length

    def _check_params(self) -> None:
        super()._check_params()
        name = type(self).__name__
        check_number(name, "num_epochs", self.num_epochs, minimum=0)
        check_number(name, "learning_rate", self.learning_rate, above=0)
        check_number(name, "weight_decay", self.weight_decay, minimum=0)
        check_number(name, "warmup", self.warmup, minimum=0)

    def _fit(self, texts: list[str], labels: np.ndarray) -> None:
        self.tokenizer_ = load_tokenizer(self.model_name_or_path)
        self.model_ = load_encoder(self.model_name_or_path, num_labels=self.num_classes_, seed=self.seed)
        fine_tune(
            self.model_, self.tokenizer_, Dataset.from_dict({"text": texts, "label": labels.tolist()}),
            epochs=self.num_epochs, learning_rate=self.learning_rate, batch_size=self.batch_size,
            warmup=self.warmup, weight_decay=self.weight_decay, seed=self.seed, max_length=self.max_length,
            use_cpu=self._device().type == "cpu",  # the Trainer trains on the GPU unless told otherwise
            **({} if self.bf16 is None else {"bf16": self.bf16}),
        )
        self.model_.eval()
        self.num_trainable_parameters_ = count_trainable_parameters(self.model_)

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        return predict_proba(self.model_, self.tokenizer_, texts, batch_size=64, max_length=self.max_length)
