"""Standard fine-tuning with a classification head: the baseline every few-shot paper reports."""
from __future__ import annotations

import tempfile

import numpy as np
import torch
from datasets import Dataset
from transformers import DataCollatorWithPadding, Trainer

from greennlp.encoders import efficient_training_args, load_encoder, load_tokenizer
from greennlp.encoders.data import length_sorted_batches

from .base import DEFAULT_SENTENCE_ENCODER, FewShotClassifier, count_trainable_parameters


class HeadClassifier(FewShotClassifier):
    """Fine-tune the whole encoder with a new sequence-classification head (``AutoModelForSequenceClassification``).

    Training runs through ``transformers.Trainer`` with :func:`encoders.efficient_training_args`.

    Parameters
    ----------
    model_name_or_path:
        Any hub id or local path of an encoder checkpoint.
    num_epochs, learning_rate, batch_size, weight_decay:
        Fine-tuning settings (the usual few-shot fine-tuning baseline: the whole model, a few dozen steps).
    bf16:
        bfloat16 mixed precision; ``None`` keeps :func:`encoders.efficient_training_args`' choice (where native).
    text_column, label_column, seed, max_length:
        See :class:`~fewshot.base.FewShotClassifier`.

    Examples
    --------
    >>> clf = HeadClassifier("sentence-transformers/all-MiniLM-L6-v2").fit(train)   # doctest: +SKIP
    >>> clf.predict(["a moving film"])                                              # doctest: +SKIP
    [1]
    """

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_SENTENCE_ENCODER,
        num_epochs: int = 10,
        learning_rate: float = 2e-5,
        batch_size: int = 8,
        weight_decay: float = 0.01,
        bf16: bool | None = None,
        text_column: str = "text",
        label_column: str = "label",
        seed: int = 0,
        max_length: int = 256,
    ) -> None:
        super().__init__(model_name_or_path, text_column, label_column, seed, batch_size, max_length)
        self.num_epochs = num_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.bf16 = bf16

    def _fit(self, texts: list[str], labels: np.ndarray) -> None:
        self.tokenizer_ = load_tokenizer(self.model_name_or_path)
        self.model_ = load_encoder(self.model_name_or_path, num_labels=self.num_classes_, seed=self.seed)
        train = Dataset.from_dict({"text": texts, "labels": labels.tolist()}).map(
            lambda batch: self.tokenizer_(batch["text"], truncation=True, max_length=self.max_length),
            batched=True,
            remove_columns=["text"],
        )
        with tempfile.TemporaryDirectory() as output_dir:
            args = efficient_training_args(
                output_dir,
                num_train_epochs=self.num_epochs,
                learning_rate=self.learning_rate,
                per_device_train_batch_size=self.batch_size,
                weight_decay=self.weight_decay,
                seed=self.seed,
                data_seed=self.seed,
                logging_strategy="no",
                disable_tqdm=True,
                **({} if self.bf16 is None else {"bf16": self.bf16}),
            )
            trainer = Trainer(
                model=self.model_,
                args=args,
                train_dataset=train,
                data_collator=DataCollatorWithPadding(self.tokenizer_),
            )
            trainer.train()
        self.model_.eval()
        self.num_trainable_parameters_ = count_trainable_parameters(self.model_)

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        device = next(self.model_.parameters()).device
        output = np.empty((len(texts), self.num_classes_))
        for index in length_sorted_batches(texts, 64):
            batch = self.tokenizer_(
                [texts[i] for i in index], padding=True, truncation=True, max_length=self.max_length,
                return_tensors="pt",
            ).to(device)
            output[index] = torch.softmax(self.model_(**batch).logits.float(), dim=-1).cpu().numpy()
        return output
