"""Price tags for NLP training (Green AI): what a run cost in time, FLOPs, data and energy, expected max
performance over trials (Dodge et al. 2019), paired differences with confidence intervals, and data-budget vs
accuracy curves."""
from __future__ import annotations

from typing import TYPE_CHECKING

from greennlp._lazy import attach

_EXPORTS = {
    "BudgetCallback": ".callback",
    "BudgetCurve": ".curve",
    "PriceTag": ".price_tag",
    "expected_max_performance": ".expected_max",
    "flop_counter": ".flops",
    "paired_difference": ".significance",
    "plot_expected_max": ".expected_max",
}
__all__ = [
    "BudgetCallback",
    "BudgetCurve",
    "PriceTag",
    "expected_max_performance",
    "flop_counter",
    "paired_difference",
    "plot_expected_max",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .callback import BudgetCallback
    from .curve import BudgetCurve
    from .expected_max import expected_max_performance, plot_expected_max
    from .flops import flop_counter
    from .significance import paired_difference
    from .price_tag import PriceTag
