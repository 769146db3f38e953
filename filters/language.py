"""Language identification as a quality rule, with the langid.py model bundled in the ``py3langid`` package
(works offline; optional extra ``greennlp[langid]``). Without it, the ``stop_words`` rule is the language test.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from .heuristics import DocumentStats, QualityRule, check_fraction

EXTRA_HINT = "pip install 'greennlp[langid]' (or pip install py3langid)"


@lru_cache(maxsize=1)
def _identifier():
    """The bundled langid.py model with normalised probabilities, loaded once per process (about 1-4 s)."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError as error:
        raise ImportError(f"The language_id rule needs the optional package py3langid, which bundles its model and "
                          f"works offline: {EXTRA_HINT}. Without it, the stop_words rule (default_rules(language=...)) "
                          "is the language test.") from error
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def identify_language(text: str, max_characters: int = 5000) -> tuple[str, float]:
    """``(ISO 639-1 code, probability)`` of the most likely of langid.py's 97 languages for ``text``.

    Only the first ``max_characters`` characters are read. Needs the ``langid`` extra (``py3langid``).
    """
    return _identifier().classify(text[:max_characters])


@dataclass(frozen=True, kw_only=True)
class LanguageID(QualityRule):
    """Keep documents identified as ``language`` with probability at least ``min_probability``.

    Uses the langid.py naive Bayes model (Lui & Baldwin 2012) as bundled in ``py3langid``; install the extra
    ``greennlp[langid]``. The model is loaded on first use in each process (so ``num_proc`` works). The
    default 0.65 is FineWeb's threshold for English (Penedo et al. 2024), set there for fastText's classifier;
    langid.py's probabilities are calibrated differently, so check a sample of what it drops on your corpus.
    Only the first ``max_characters`` characters are classified (cost grows with length).

    Parameters
    ----------
    language : str
        ISO 639-1 code of the language to keep, e.g. "en", "de".
    min_probability : float
        Smallest probability of ``language`` that keeps a document.
    max_characters : int
        Characters of each document given to the classifier.
    """

    language: str = "en"
    min_probability: float = 0.65
    max_characters: int = 5000
    name: ClassVar[str] = "language"
    source: ClassVar[str] = "langid.py (Lui & Baldwin 2012) via py3langid; threshold: FineWeb (Penedo et al. 2024)"

    def __post_init__(self):
        check_fraction("language_id", min_probability=self.min_probability)
        if self.max_characters < 1:
            raise ValueError(f"language_id(max_characters={self.max_characters!r}) must be at least 1.")
        labels = _identifier().nb_classes
        if self.language not in labels:
            raise ValueError(f"language_id(language={self.language!r}): langid.py does not know it; use an "
                             f"ISO 639-1 code among {sorted(set(labels))}.")

    def keeps(self, doc: DocumentStats) -> bool:
        if not doc.words:
            return False
        language, probability = identify_language(doc.text, self.max_characters)
        return language == self.language and probability >= self.min_probability
