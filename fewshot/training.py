"""The one small training loop behind the contrastive, prototype-adapter and pattern methods.

AdamW with linear warm-up and decay, gradient clipping, seeded batch order, bf16 autocast where native.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from transformers import get_linear_schedule_with_warmup

from greennlp.encoders import bf16_supported


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
) -> list[float]:
    """Run ``epochs`` passes over ``batches`` (shuffled each epoch with ``seed``), minimising ``loss_fn(batch)``.

    ``bf16=None`` turns on bfloat16 autocast where the hardware runs it natively (see
    :func:`encoders.bf16_supported`). Returns the loss of every step.
    """
    parameters = [p for p in parameters if p.requires_grad]
    total = epochs * len(batches)
    if total == 0 or not parameters:
        return []
    device = device or parameters[0].device
    autocast = bf16_supported(device) if bf16 is None else bf16
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(warmup_fraction * total), total)
    rng = random.Random(seed)
    order = list(range(len(batches)))
    losses = []
    for _ in range(epochs):
        rng.shuffle(order)
        for index in order:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                loss = loss_fn(batches[index])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
    return losses
