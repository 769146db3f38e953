"""Price tags for NLP training (Green AI): what a run cost in time, FLOPs, data and energy, expected max
performance over trials (Dodge et al. 2019), paired differences with confidence intervals, data-budget vs
accuracy curves, and data maps with their price (cheap maps, cross-fitted maps)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from greennlp._lazy import attach

_EXPORTS = {
    "BudgetCallback": ".callback",
    "BudgetCurve": ".curve",
    "PriceTag": ".price_tag",
    "cheap_map": ".cheap_maps",
    "cross_fitted_map": ".cheap_maps",
    "expected_max_performance": ".expected_max",
    "paired_difference": ".significance",
}
__all__ = [
    "BudgetCallback",
    "BudgetCurve",
    "PriceTag",
    "cheap_map",
    "cross_fitted_map",
    "expected_max_performance",
    "paired_difference",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .callback import BudgetCallback
    from .cheap_maps import cheap_map, cross_fitted_map
    from .curve import BudgetCurve
    from .expected_max import expected_max_performance
    from .price_tag import PriceTag
    from .significance import paired_difference
