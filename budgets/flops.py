"""Count FLOPs of real training steps with ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add is
2 FLOPs), after teaching it the fused CPU attention kernel that PyTorch leaves uncounted."""
from __future__ import annotations

from collections.abc import Mapping
from math import prod

import torch
from torch.utils.flop_counter import FlopCounterMode, flop_registry, register_flop_formula

_aten = torch.ops.aten


def _attention_flops(query_shape, key_shape, value_shape) -> int:
    # (batch, heads, q_len, head_dim) @ (.., head_dim, k_len), then (.., q_len, k_len) @ (.., k_len, v_dim)
    *batch, q_len, head_dim = query_shape
    k_len, v_dim = key_shape[-2], value_shape[-1]
    return 2 * prod(batch) * q_len * k_len * (head_dim + v_dim)


def _register_cpu_attention() -> None:
    # On CPU, scaled_dot_product_attention dispatches to `_scaled_dot_product_flash_attention_for_cpu`, which
    # torch's counter does not know (it would count attention as 0 FLOPs). Same formulas as the GPU kernels.
    forward = getattr(_aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    backward = getattr(_aten, "_scaled_dot_product_flash_attention_for_cpu_backward", None)
    if forward is not None and forward not in flop_registry:

        @register_flop_formula(forward)
        def _forward(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
            return _attention_flops(query_shape, key_shape, value_shape)

    if backward is not None and backward not in flop_registry:

        @register_flop_formula(backward)
        def _backward(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
            # gradients flow through both matmuls: twice the forward work
            return 2 * _attention_flops(query_shape, key_shape, value_shape)


_register_cpu_attention()


def flop_counter() -> FlopCounterMode:
    """A silent ``FlopCounterMode`` that also counts the fused CPU attention kernel."""
    return FlopCounterMode(display=False)


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
