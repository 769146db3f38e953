"""Fine-tune a classifier with the efficient settings, and measure accuracy: the one training loop that the
quickstart, the cartography reproduction and budget curves share (all on ``transformers.Trainer``)."""
from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch
from datasets import Dataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainerCallback

from .data import PaddingCollator, tokenize_dataset
from .models import bf16_supported
from .training import efficient_training_args


def fine_tune(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train: Dataset,
    output_dir: str,
    epochs: float = 3,
    learning_rate: float = 5e-5,
    batch_size: int = 32,
    seed: int = 0,
    callbacks: Sequence[TrainerCallback] = (),
    text_column: str = "text",
    label_column: str = "label",
    max_length: int = 128,
    keep_columns: tuple[str, ...] = (),
    **training_overrides,
) -> Trainer:
    """Train ``model`` on ``train`` (raw text + labels) with :func:`efficient_training_args`; returns the Trainer.

    Texts are tokenized once without padding (:func:`tokenize_dataset`) and batches padded dynamically.
    ``keep_columns`` keeps extra columns (e.g. an id column for ``DataMapCallback(id_column=...)``).
    """
    tokenized = tokenize_dataset(train, tokenizer, text_column=text_column, label_column=label_column,
                                 max_length=max_length, keep_columns=keep_columns)
    settings = dict(num_train_epochs=epochs, learning_rate=learning_rate, per_device_train_batch_size=batch_size,
                    seed=seed, data_seed=seed, logging_strategy="no", warmup_steps=0.1)
    settings.update(training_overrides)
    trainer = Trainer(
        model=model,
        args=efficient_training_args(output_dir, **settings),
        train_dataset=tokenized,
        data_collator=PaddingCollator(tokenizer.pad_token_id),
        callbacks=list(callbacks),
    )
    trainer.train()
    return trainer


@torch.no_grad()
def predict_labels(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str],
                   batch_size: int = 128, max_length: int = 128) -> np.ndarray:
    """Predicted class ids for ``texts`` (length-sorted batches, bf16 autocast where supported)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    order = np.argsort([len(t) for t in texts], kind="stable")
    predictions = np.empty(len(texts), dtype=np.int64)
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if bf16_supported(device)
                else contextlib.nullcontext())
    for start in range(0, len(texts), batch_size):
        index = order[start : start + batch_size]
        batch = tokenizer([texts[i] for i in index], padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt").to(device)
        with autocast:
            predictions[index] = model(**batch).logits.argmax(-1).cpu().numpy()
    model.train(was_training)
    return predictions


def accuracy(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, dataset: Dataset,
             text_column: str = "text", label_column: str = "label", **kwargs) -> float:
    """Accuracy of ``model`` on a dataset with text and integer labels."""
    predictions = predict_labels(model, tokenizer, dataset[text_column], **kwargs)
    return float((predictions == np.asarray(dataset[label_column])).mean())
