"""Price tags for NLP training (Green AI): what a run cost in time, FLOPs, data and energy, expected max
performance over trials (Dodge et al. 2019), and data-budget vs accuracy curves."""
from .callback import BudgetCallback
from .curve import NAMED_STRATEGIES, BudgetCurve, Selector
from .energy import EnergyMeter, codecarbon_available
from .expected_max import expected_max_performance, plot_expected_max
from .flops import flop_counter, training_step_flops
from .io import save_figure, write_json, write_parquet
from .price_tag import PriceTag

__all__ = [
    "BudgetCallback",
    "BudgetCurve",
    "EnergyMeter",
    "NAMED_STRATEGIES",
    "PriceTag",
    "Selector",
    "codecarbon_available",
    "expected_max_performance",
    "flop_counter",
    "plot_expected_max",
    "save_figure",
    "training_step_flops",
    "write_json",
    "write_parquet",
]
