"""Efficient inference: early exit with calibrated confidence, its speed/accuracy curve and FLOP counts,
distillation into smaller students, dropping layers (LayerDrop) and pruning attention heads by importance."""
from __future__ import annotations

from typing import TYPE_CHECKING

from greennlp._lazy import attach

_EXPORTS = {
    "DistillationTrainer": ".distillation",
    "EarlyExitClassifier": ".early_exit",
    "exit_curve": ".curve",
    "head_importance": ".heads",
    "keep_layers": ".pruning",
    "layer_drop": ".pruning",
    "prune_heads": ".heads",
}
__all__ = [
    "DistillationTrainer",
    "EarlyExitClassifier",
    "exit_curve",
    "head_importance",
    "keep_layers",
    "layer_drop",
    "prune_heads",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .curve import exit_curve
    from .distillation import DistillationTrainer
    from .early_exit import EarlyExitClassifier
    from .heads import head_importance, prune_heads
    from .pruning import keep_layers, layer_drop
