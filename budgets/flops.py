"""Count FLOPs of real training steps with ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add is
2 FLOPs), taught the fused CPU attention kernel that PyTorch leaves uncounted. Importing this module, or using it,
changes nothing in torch's global FLOP registry: the extra formulas go to each counter as its ``custom_mapping``."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from math import prod
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, flop_registry


def _attention_flops(query_shape, key_shape, value_shape) -> int:
    # (batch, heads, q_len, head_dim) @ (.., head_dim, k_len), then (.., q_len, k_len) @ (.., k_len, v_dim)
    *batch, q_len, head_dim = query_shape
    k_len, v_dim = key_shape[-2], value_shape[-1]
    return 2 * prod(batch) * q_len * k_len * (head_dim + v_dim)


def _cpu_attention_forward(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return _attention_flops(query_shape, key_shape, value_shape)


def _cpu_attention_backward(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None,
                            **kwargs) -> int:
    # gradients flow through both matmuls: twice the forward work
    return 2 * _attention_flops(query_shape, key_shape, value_shape)


def _extra_formulas() -> dict[Any, Callable[..., int]]:
    """FLOP formulas (on shapes) of the kernels torch's counter does not know, for ``FlopCounterMode(custom_mapping=)``.

    On CPU, scaled_dot_product_attention dispatches to ``_scaled_dot_product_flash_attention_for_cpu``, which
    torch's counter would count as 0 FLOPs; same formulas as the GPU kernels. Looked up on each call (cheap), so
    nothing is computed at import, and a kernel torch itself learns to count keeps torch's formula.
    """
    aten = torch.ops.aten
    formulas = {}
    for name, formula in (("_scaled_dot_product_flash_attention_for_cpu", _cpu_attention_forward),
                          ("_scaled_dot_product_flash_attention_for_cpu_backward", _cpu_attention_backward)):
        kernel = getattr(aten, name, None)
        if kernel is not None and kernel not in flop_registry:
            formulas[kernel] = formula
    return formulas


def flop_counter() -> FlopCounterMode:
    """A silent ``FlopCounterMode`` that also counts the fused CPU attention kernel (use it as a context manager)."""
    return FlopCounterMode(display=False, custom_mapping=_extra_formulas())


def training_step_flops(model: torch.nn.Module, batch: Mapping[str, torch.Tensor]) -> int:
    """FLOPs of one forward and backward pass of ``model`` on ``batch`` (gradients are cleared afterwards).

    The optimizer update is elementwise and not counted (it is ``O(parameters)``, negligible next to the
    matmuls). Use it to price a step before a run, or to check :class:`BudgetCallback`'s extrapolation.

    A linear layer on a batch of 2: forward 2 x (2 x 4 x 3) = 48 FLOPs, weight gradient 48 more (the input
    needs no gradient).

    >>> import torch
    >>> training_step_flops(torch.nn.Linear(4, 3), {"input": torch.ones(2, 4)})
    96
    """
    was_training = model.training
    model.train()
    with flop_counter() as counter:
        output = model(**batch)
        loss = output.loss if getattr(output, "loss", None) is not None else output[0].float().sum()
        loss.backward()
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return int(counter.get_total_flops())
