"""Choosing less data: by data-map region, by any per-example score, or at random (the baseline)."""
from .regions import select_by_region
from .selection import select_by_score, select_random

__all__ = ["select_by_region", "select_by_score", "select_random"]
