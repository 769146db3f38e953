"""Fine-tune a classifier with the efficient settings, and measure accuracy: the one training loop that the
quickstart, the cartography reproduction and budget curves share (all on ``transformers.Trainer``)."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainerCallback

from .data import PaddingCollator, length_sorted_batches, tokenize_dataset
from .models import bf16_supported
from .training import efficient_training_args


def fine_tune(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train: Dataset,
    output_dir: str | os.PathLike | None = None,
    *,
    epochs: float = 3,
    learning_rate: float = 5e-5,
    batch_size: int = 32,
    warmup: float = 0.1,
    weight_decay: float = 0.0,
    seed: int = 0,
    callbacks: Sequence[TrainerCallback] = (),
    collator: Callable[[list[dict]], dict] | None = None,
    text_column: str = "text",
    label_column: str = "label",
    max_length: int = 128,
    keep_columns: tuple[str, ...] = (),
    progress: bool = False,
    **training_overrides: Any,
) -> Trainer:
    """Train ``model`` on ``train`` (raw text + labels) with :func:`efficient_training_args`; returns the Trainer.

    The project's one fine-tuning path: the quickstart, the cartography reproduction, ``BudgetCurve`` and the
    few-shot ``HeadClassifier`` all train through it, so their results are comparable.

    Texts are tokenized once without padding (:func:`tokenize_dataset`) and batches padded dynamically
    (``collator``, default :class:`PaddingCollator`). ``warmup`` is a linear warm-up as a fraction of the steps
    (below 1) or a number of steps. ``keep_columns`` keeps extra columns (e.g. an id column for
    ``DataMapCallback(id_column=...)``). ``output_dir=None`` trains in a temporary folder that is removed
    afterwards (nothing is saved there unless ``save_strategy`` asks). Other ``TrainingArguments`` go in
    ``training_overrides`` and win over every setting here.
    """
    tokenized = tokenize_dataset(train, tokenizer, text_column=text_column, label_column=label_column,
                                 max_length=max_length, keep_columns=keep_columns)
    settings = dict(num_train_epochs=epochs, learning_rate=learning_rate, per_device_train_batch_size=batch_size,
                    weight_decay=weight_decay, seed=seed, data_seed=seed, logging_strategy="no",
                    warmup_steps=warmup, disable_tqdm=not progress)
    if keep_columns and collator is None:
        # the Trainer would drop the kept columns (an id column for DataMapCallback) before callbacks see them;
        # PaddingCollator leaves them out of the batches
        settings["remove_unused_columns"] = False
    settings.update(training_overrides)
    with contextlib.ExitStack() as stack:
        if output_dir is None:
            output_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="greennlp-fine-tune-"))
        trainer = Trainer(
            model=model,
            args=efficient_training_args(str(output_dir), **settings),
            train_dataset=tokenized,
            data_collator=collator or PaddingCollator(tokenizer.pad_token_id),
            callbacks=list(callbacks),
        )
        trainer.train()
    return trainer


@torch.no_grad()
def predict_proba(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                  batch_size: int = 128, max_length: int = 128) -> np.ndarray:
    """Class probabilities ``(len(texts), num_labels)`` for ``texts`` (length-sorted batches, bf16 autocast
    where it measures faster); the project's one batched classifier inference."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    probabilities = None
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if bf16_supported(device)
                else contextlib.nullcontext())
    for index in length_sorted_batches(texts, batch_size):
        batch = tokenizer([texts[i] for i in index], padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt").to(device)
        with autocast:
            logits = model(**batch).logits
        if probabilities is None:
            probabilities = np.empty((len(texts), logits.shape[-1]), dtype=np.float64)
        probabilities[index] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    model.train(was_training)
    if probabilities is None:
        return np.empty((0, model.config.num_labels), dtype=np.float64)
    return probabilities


def predict_labels(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                   batch_size: int = 128, max_length: int = 128) -> np.ndarray:
    """Predicted class ids for ``texts`` (see :func:`predict_proba`)."""
    return predict_proba(model, tokenizer, texts, batch_size=batch_size, max_length=max_length).argmax(-1)


def accuracy(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, dataset: Dataset, *,
             text_column: str = "text", label_column: str = "label", per_example: bool = False,
             **kwargs: Any) -> float | np.ndarray:
    """Accuracy of ``model`` on a dataset with text and integer labels: the project's one accuracy (the fraction
    of examples whose predicted class id equals the label). ``per_example=True`` returns each example's
    correctness instead (0/1 in dataset order, the input of :func:`greennlp.budgets.paired_difference`).
    ``kwargs`` go to :func:`predict_labels`."""
    predictions = predict_labels(model, tokenizer, dataset[text_column], **kwargs)
    correct = (predictions == np.asarray(dataset[label_column])).astype(np.int8)
    return correct if per_example else float(correct.mean())
