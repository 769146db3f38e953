"""Choosing less data: by data-map region, by any per-example score, at random (the baseline), at both ends or
stratified, by embedding prototypes (Sorscher et al. 2022); semantic deduplication and D4; and Gopher/C4 corpus
cleaning.

Corpus cleaning (``annotate_quality``, ``clean_corpus`` and the rules) imports no torch or transformers: names
resolve on first use, so ``from greennlp.filters import WordCount`` stays light on CPU-only data machines."""
from __future__ import annotations

from typing import TYPE_CHECKING

from greennlp._lazy import attach

_EXPORTS = {
    "AlphabeticWords": ".heuristics",
    "BulletLines": ".heuristics",
    "EllipsisLines": ".heuristics",
    "FoulWords": ".heuristics",
    "LanguageID": ".language",
    "LeftoverMarkup": ".heuristics",
    "MeanWordLength": ".heuristics",
    "PrototypePruner": ".prototypes",
    "QualityRule": ".heuristics",
    "RepeatedLines": ".repetition",
    "RepeatedNGrams": ".repetition",
    "SemanticDeduplicator": ".dedup",
    "StopWords": ".heuristics",
    "SymbolRatio": ".heuristics",
    "WordCount": ".heuristics",
    "annotate_quality": ".cleaning",
    "clean_corpus": ".cleaning",
    "default_rules": ".cleaning",
    "drop_summary": ".cleaning",
    "select_by_region": ".regions",
    "select_by_score": ".selection",
    "select_ends": ".stratified",
    "select_random": ".selection",
    "select_stratified": ".stratified",
}
__all__ = [
    "AlphabeticWords",
    "BulletLines",
    "EllipsisLines",
    "FoulWords",
    "LanguageID",
    "LeftoverMarkup",
    "MeanWordLength",
    "PrototypePruner",
    "QualityRule",
    "RepeatedLines",
    "RepeatedNGrams",
    "SemanticDeduplicator",
    "StopWords",
    "SymbolRatio",
    "WordCount",
    "annotate_quality",
    "clean_corpus",
    "default_rules",
    "drop_summary",
    "select_by_region",
    "select_by_score",
    "select_ends",
    "select_random",
    "select_stratified",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .cleaning import annotate_quality, clean_corpus, default_rules, drop_summary
    from .dedup import SemanticDeduplicator
    from .heuristics import (
        AlphabeticWords,
        BulletLines,
        EllipsisLines,
        FoulWords,
        LeftoverMarkup,
        MeanWordLength,
        QualityRule,
        StopWords,
        SymbolRatio,
        WordCount,
    )
    from .language import LanguageID
    from .prototypes import PrototypePruner
    from .regions import select_by_region
    from .repetition import RepeatedLines, RepeatedNGrams
    from .selection import select_by_score, select_random
    from .stratified import select_ends, select_stratified
