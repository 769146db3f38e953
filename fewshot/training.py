"""The training behind the contrastive, prototype-adapter and pattern methods, on the project's one training path.

Their losses are not a classification head's (pairs of texts, prototypes, label words in a template), so each
step is a closure over one of the method's batches; :func:`train_steps` runs those closures through
:func:`greennlp.encoders.fine_tune` (``transformers.Trainer``): AdamW over exactly the given parameters (weight
decay on all of them), linear warm-up and decay, gradient clipping, a seeded batch order reshuffled every epoch,
bf16 autocast where native.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from datasets import Dataset

from greennlp.encoders import fine_tune
from greennlp.encoders.models import bf16_supported


class _StepLoss(torch.nn.Module):
    """What the Trainer trains: the parameters, and a forward that returns ``loss_fn`` of the batch it is handed
    (by its position in ``batches``)."""

    def __init__(self, parameters: list[torch.nn.Parameter], batches: Sequence[Any],
                 loss_fn: Callable[[Any], torch.Tensor]) -> None:
        super().__init__()
        self.trained = torch.nn.ParameterList(parameters)
        self._batches, self._loss_fn = batches, loss_fn

    def forward(self, batch_index: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": self._loss_fn(self._batches[int(batch_index.reshape(-1)[0])])}


def _one_batch(features: list[dict[str, int]]) -> dict[str, torch.Tensor]:
    return {"batch_index": torch.tensor([feature["batch_index"] for feature in features])}


def train_steps(
    parameters: Iterable[torch.nn.Parameter],
    batches: Sequence[Any],
    loss_fn: Callable[[Any], torch.Tensor],
    epochs: int,
    learning_rate: float,
    seed: int,
    weight_decay: float = 0.0,
    warmup_fraction: float = 0.1,
    max_grad_norm: float = 1.0,
    bf16: bool | None = None,
    device: torch.device | None = None,
) -> None:
    """Run ``epochs`` passes over ``batches`` (in an order reshuffled each epoch from ``seed``), minimising
    ``loss_fn(batch)``, through :func:`greennlp.encoders.fine_tune`.

    One optimizer step per batch. ``bf16=None`` turns on bfloat16 autocast where the hardware runs it natively
    (``encoders.models.bf16_supported``). Training runs where the parameters are (``device`` names it when they
    are split): the Trainer is told to use the CPU for parameters on the CPU, so nothing moves.
    """
    parameters = [p for p in parameters if p.requires_grad]
    if epochs * len(batches) == 0 or not parameters:
        return
    device = torch.device(device) if device is not None else parameters[0].device
    autocast = bf16_supported(device) if bf16 is None else bf16
    module = _StepLoss(parameters, batches, loss_fn)
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay)
    fine_tune(module, None, Dataset.from_dict({"batch_index": list(range(len(batches)))}), epochs=epochs,
              learning_rate=learning_rate, batch_size=1, warmup=warmup_fraction, weight_decay=weight_decay, seed=seed,
              collator=_one_batch, optimizers=(optimizer, None), max_grad_norm=max_grad_norm, bf16=autocast,
              use_cpu=device.type == "cpu", train_sampling_strategy="random", remove_unused_columns=False,
              dataloader_num_workers=0)
