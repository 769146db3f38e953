"""Choosing less data: by data-map region, by any per-example score, or at random (the baseline); score
selection beyond one end (both ends, stratified), embedding-prototype pruning, and Gopher/C4 corpus cleaning
(with an optional offline language-id rule)."""
from .cleaning import annotate_quality, clean_corpus, default_rules, drop_reasons, drop_summary
from .embedding_cache import cached_embed
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
from .language import LanguageID, identify_language
from .prototypes import PrototypePruner
from .regions import select_by_region
from .repetition import RepeatedLines, RepeatedNGrams
from .selection import select_by_score, select_random
from .stratified import class_quotas, select_ends, select_stratified

__all__ = [
    "select_by_region",
    "select_by_score",
    "select_random",
    # score selection beyond one end, stratified / balanced
    "class_quotas",
    "select_ends",
    "select_stratified",
    # embedding-prototype pruning
    "PrototypePruner",
    "cached_embed",
    # corpus-cleaning heuristics
    "AlphabeticWords",
    "BulletLines",
    "EllipsisLines",
    "FoulWords",
    "LanguageID",
    "LeftoverMarkup",
    "MeanWordLength",
    "QualityRule",
    "RepeatedLines",
    "RepeatedNGrams",
    "StopWords",
    "SymbolRatio",
    "WordCount",
    "annotate_quality",
    "clean_corpus",
    "default_rules",
    "drop_reasons",
    "drop_summary",
    "identify_language",
]
