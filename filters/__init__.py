"""Choosing less data: by data-map region, by any per-example score (either end, both ends, the middle), at
random (the baseline), stratified by class, by embedding prototypes (Sorscher et al. 2022); semantic deduplication
and D4; and Gopher/C4 corpus cleaning, its rules configured by name through ``default_rules``.

Corpus cleaning (``annotate_quality``, ``clean_corpus``, ``default_rules``) imports no torch or transformers: names
resolve on first use, so ``from greennlp.filters import clean_corpus`` stays light on CPU-only data machines."""
from __future__ import annotations

from typing import TYPE_CHECKING

from greennlp._lazy import attach

_EXPORTS = {
    "PrototypePruner": ".prototypes",
    "QualityRule": ".heuristics",
    "SemanticDeduplicator": ".dedup",
    "annotate_quality": ".cleaning",
    "clean_corpus": ".cleaning",
    "default_rules": ".cleaning",
    "drop_summary": ".cleaning",
    "select_by_region": ".regions",
    "select_by_score": ".selection",
    "select_random": ".selection",
    "select_stratified": ".stratified",
}
__all__ = [
    "PrototypePruner",
    "QualityRule",
    "SemanticDeduplicator",
    "annotate_quality",
    "clean_corpus",
    "default_rules",
    "drop_summary",
    "select_by_region",
    "select_by_score",
    "select_random",
    "select_stratified",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .cleaning import annotate_quality, clean_corpus, default_rules, drop_summary
    from .dedup import SemanticDeduplicator
    from .heuristics import QualityRule
    from .prototypes import PrototypePruner
    from .regions import select_by_region
    from .selection import select_by_score, select_random
    from .stratified import select_stratified
