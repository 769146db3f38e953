"""Fine-tune with the efficient settings, and measure accuracy: the one training path that the quickstart, the
cartography reproduction, budget curves and the few-shot methods share (all on ``transformers.Trainer``), and the
one accuracy."""
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
from transformers.trainer_callback import PrinterCallback

from .data import PaddingCollator, length_sorted_batches, tokenize_dataset
from .models import bf16_supported
from .training import efficient_training_args


def fine_tune(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase | None,
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
    optimizers: tuple[torch.optim.Optimizer | None, Any] = (None, None),
    text_column: str = "text",
    label_column: str = "label",
    max_length: int = 128,
    keep_columns: tuple[str, ...] = (),
    progress: bool = False,
    **training_overrides: Any,
) -> Trainer:
    """Train ``model`` on ``train`` with :func:`efficient_training_args`; returns the Trainer.

    The project's one fine-tuning path: the quickstart, the cartography reproduction, ``BudgetCurve``, cheap maps,
    the few-shot methods and the inference benchmarks all train through it, so their results are comparable.

    ``train`` holds raw text and labels (``text_column``, ``label_column``), tokenized here once without padding
    (:func:`tokenize_dataset`), or is already tokenized (it has ``input_ids``, e.g. from
    :func:`tokenize_dataset`) or holds whatever features ``collator`` batches: such a dataset is used as it is.
    Batches are padded dynamically (``collator``, default the library's padding collator, which follows the
    tokenizer's ``padding_side``). ``optimizers`` is ``Trainer``'s ``(optimizer, scheduler)`` pair: pass your own
    optimizer (e.g. parameter groups with their own learning rates) and, optionally, its scheduler; ``None``
    builds the default (fused AdamW; linear decay after the warm-up). ``warmup`` is a linear warm-up as a fraction
    of the steps (below 1) or a number of steps. ``keep_columns`` keeps extra columns (e.g. an id column for
    ``DataMapCallback(id_column=...)``). ``output_dir=None`` trains in a temporary folder that is removed
    afterwards (nothing is saved there unless ``save_strategy`` asks). ``progress=True`` shows the Trainer's
    progress bar; otherwise the run prints nothing. Other ``TrainingArguments`` go in ``training_overrides`` and
    win over every setting here.

    Parameters
    ----------
    model : torch.nn.Module
        The model to train, in place (e.g. from :func:`load_encoder`).
    tokenizer : PreTrainedTokenizerBase or None
        Tokenizes raw text and pads the batches; ``None`` only with a tokenized dataset and a ``collator``.
    train : Dataset
        The training set: raw text and labels, or already tokenized (above).
    output_dir : str or os.PathLike, optional
        The Trainer's output folder; ``None``: a temporary folder, removed afterwards.
    epochs : float
        Passes over ``train`` (``num_train_epochs``; default 3).
    learning_rate : float
        Peak learning rate of the default optimizer, reached after the warm-up and then decayed linearly to 0
        (default 5e-5). An optimizer passed in ``optimizers`` keeps its own.
    batch_size : int
        Training examples per step and device (``per_device_train_batch_size``; default 32).
    warmup : float
        Linear warm-up: a fraction of the steps when below 1, else a number of steps (default 0.1).
    weight_decay : float
        Decoupled (AdamW) weight decay of the default optimizer, on every weight except biases and LayerNorm
        weights (default 0.0: none). An optimizer passed in ``optimizers`` keeps its own.
    seed : int
        The Trainer's ``seed`` and ``data_seed`` (dropout, the order of the batches; default 0).
    callbacks : sequence of TrainerCallback
        Added to the Trainer, e.g. ``DataMapCallback`` or ``BudgetCallback`` (default none).
    collator : callable, optional
        Turns a list of examples into a batch; ``None``: the library's padding collator.
    optimizers : tuple
        ``Trainer``'s ``(optimizer, scheduler)`` pair (default ``(None, None)``: both built as above).
    text_column : str
        Column of the raw texts (default ``"text"``).
    label_column : str
        Column of the integer class ids, copied to ``labels`` when the texts are tokenized here (default
        ``"label"``).
    max_length : int
        Texts tokenized here are truncated to this many tokens (default 128); a tokenized dataset is used as it
        is.
    keep_columns : tuple of str
        Extra columns kept through the tokenization (default none).
    progress : bool
        Show the Trainer's progress bar (default ``False``).
    **training_overrides
        Other ``TrainingArguments``; they win over every setting above.

    Examples
    --------
    >>> from datasets import Dataset
    >>> from greennlp.encoders import load_encoder, tokenize_dataset, train_wordpiece_tokenizer
    >>> data = Dataset.from_dict({"text": ["a good film", "a bad film"] * 8, "label": [1, 0] * 8})
    >>> tokenizer = train_wordpiece_tokenizer(data["text"], vocab_size=100)
    >>> model = load_encoder("tiny", tokenizer=tokenizer, seed=0)
    >>> trainer = fine_tune(model, tokenizer, data, epochs=1, batch_size=8)               # raw text
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> trainer = fine_tune(model, tokenizer, tokenize_dataset(data, tokenizer), epochs=1, batch_size=8,
    ...                     optimizers=(optimizer, None))                                 # tokenized, own optimizer
    >>> trainer.state.global_step
    2
    """
    if not isinstance(train, Dataset):
        raise TypeError(f"fine_tune() trains on a datasets.Dataset; got {type(train).__name__}. Build one with "
                        "datasets.Dataset.from_dict({'text': [...], 'label': [...]}).")
    raw_text = text_column in train.column_names and "input_ids" not in train.column_names
    if tokenizer is None and (raw_text or collator is None):
        raise ValueError("fine_tune(tokenizer=None) needs a dataset without raw text and a `collator=`; pass the "
                         "tokenizer to tokenize the texts and pad the batches.")
    if not raw_text and collator is None and "input_ids" not in train.column_names:
        raise ValueError(f"fine_tune(): the dataset has neither the text column {text_column!r} nor input_ids (it "
                         f"has {train.column_names}); pass text_column= naming the texts, or a collator= that batches "
                         "these columns.")
    if not (isinstance(optimizers, tuple) and len(optimizers) == 2):
        raise ValueError(f"fine_tune(optimizers=...) got a {type(optimizers).__name__}; give Trainer's pair "
                         "(optimizer, scheduler), e.g. optimizers=(torch.optim.AdamW(model.parameters(), lr=1e-4), None) "
                         "(a None scheduler: linear decay after the warm-up).")
    tokenized = tokenize_dataset(train, tokenizer, text_column=text_column, label_column=label_column,
                                 max_length=max_length, keep_columns=keep_columns) if raw_text else train
    settings = dict(num_train_epochs=epochs, learning_rate=learning_rate, per_device_train_batch_size=batch_size,
                    weight_decay=weight_decay, seed=seed, data_seed=seed, logging_strategy="no",
                    warmup_steps=warmup, disable_tqdm=not progress)
    if keep_columns and collator is None:
        # the Trainer would drop the kept columns (an id column for DataMapCallback) before callbacks see them;
        # the padding collator leaves them out of the batches
        settings["remove_unused_columns"] = False
    settings.update(training_overrides)
    with contextlib.ExitStack() as stack:
        if output_dir is None:
            output_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="greennlp-fine-tune-"))
        trainer = Trainer(
            model=model,
            args=efficient_training_args(str(output_dir), **settings),
            train_dataset=tokenized,
            data_collator=collator or PaddingCollator(tokenizer),
            callbacks=list(callbacks),
            optimizers=optimizers,
        )
        if not progress and trainer.args.logging_strategy == "no":
            # quiet unless asked: the run's metrics stay in trainer.state, printing them at the end is noise
            trainer.remove_callback(PrinterCallback)
        trainer.train()
    return trainer


def _quantized(model: torch.nn.Module) -> bool:
    """Whether ``model`` holds quantized layers (torch.ao's dynamic int8, as made by ``quantize_int8``)."""
    return any(type(module).__module__.startswith("torch.ao.nn.quantized") for module in model.modules())


@torch.no_grad()
def predict_proba(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                  batch_size: int = 128, max_length: int = 128) -> np.ndarray:
    """Class probabilities ``(len(texts), num_labels)`` for ``texts`` (length-sorted batches, bf16 autocast
    where it measures faster); the project's one batched classifier inference."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    probabilities = None
    # int8 layers (quantize_int8) take float32 activations: no bf16 autocast around them
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if bf16_supported(device) and not _quantized(model)
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
    ``kwargs`` go to :func:`predict_labels`.

    Parameters
    ----------
    model : PreTrainedModel
        A sequence classifier; its predicted class id is the argmax of its logits.
    tokenizer : PreTrainedTokenizerBase
        The model's tokenizer.
    dataset : Dataset
        The examples to score.
    text_column : str
        Column of the texts (default ``"text"``).
    label_column : str
        Column of the integer class ids the predictions are compared with (default ``"label"``).
    per_example : bool
        Return the 0/1 correctness of each example (an ``int8`` array) instead of its mean (default ``False``).
    **kwargs
        ``batch_size`` (default 128) and ``max_length`` (default 128, longer texts truncated) of
        :func:`predict_labels`.

    Examples
    --------
    >>> from datasets import Dataset
    >>> from greennlp.encoders import load_encoder, train_wordpiece_tokenizer
    >>> data = Dataset.from_dict({"text": ["a good film", "a bad film", "a dull plot", "a great plot"],
    ...                           "label": [1, 0, 0, 1]})
    >>> tokenizer = train_wordpiece_tokenizer(data["text"], vocab_size=100)
    >>> model = load_encoder("tiny", tokenizer=tokenizer, seed=0)           # any classifier (untrained here)
    >>> score = accuracy(model, tokenizer, data)
    >>> correct = accuracy(model, tokenizer, data, per_example=True)       # 0/1 per example, in dataset order
    >>> type(score).__name__, correct.shape, correct.dtype.name, float(correct.mean()) == score
    ('float', (4,), 'int8', True)
    """
    predictions = predict_labels(model, tokenizer, dataset[text_column], **kwargs)
    correct = correctness(predictions, dataset[label_column])
    return correct if per_example else float(correct.mean())


def correctness(predictions: Sequence[int] | np.ndarray, labels: Sequence[int] | np.ndarray) -> np.ndarray:
    """Each example's correctness, 0/1 (``int8``): its predicted class id equals its label. The one definition
    behind :func:`accuracy` (its mean), the few-shot protocol and ``FewShotClassifier.score``, and the early-exit
    curve, so every accuracy of the project is the same number."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape:
        raise ValueError(f"correctness(): {predictions.shape} predictions for {labels.shape} labels; give one "
                         "prediction per label.")
    return (predictions == labels).astype(np.int8)
