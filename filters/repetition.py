"""Repetition rules from Gopher (Rae et al. 2021, table A1): documents made of repeated lines, paragraphs or
word n-grams (boilerplate, spam, lists). N-grams are compared through vectorised rolling hashes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .heuristics import DocumentStats, QualityRule, check_fraction


def _repeated_share(parts: list[str]) -> tuple[float, float]:
    """Share of ``parts`` (and of their characters) that repeat an earlier part of the same document."""
    seen: set[str] = set()
    repeated = repeated_chars = 0
    for part in parts:
        if part in seen:
            repeated += 1
            repeated_chars += len(part)
        seen.add(part)
    total_chars = sum(len(part) for part in parts)
    return repeated / len(parts), (repeated_chars / total_chars if total_chars else 0.0)


@dataclass(frozen=True, kw_only=True)
class RepeatedLines(QualityRule):
    """Drop documents made of repeated lines or paragraphs (Gopher: 0.30 of lines, 0.20 of their characters;
    0.30 of paragraphs, 0.20 of their characters). A line counts as repeated from its second occurrence on.

    >>> RepeatedLines()("buy now\\nbuy now\\nbuy now\\nabout us"), RepeatedLines()("one line\\nanother line")
    (False, True)
    """

    max_line_fraction: float = 0.30
    max_line_char_fraction: float = 0.20
    max_paragraph_fraction: float = 0.30
    max_paragraph_char_fraction: float = 0.20
    name: ClassVar[str] = "repeated_lines"
    source: ClassVar[str] = "Gopher (Rae et al. 2021), table A1"

    def __post_init__(self):
        check_fraction(self.name, max_line_fraction=self.max_line_fraction,
                        max_line_char_fraction=self.max_line_char_fraction,
                        max_paragraph_fraction=self.max_paragraph_fraction,
                        max_paragraph_char_fraction=self.max_paragraph_char_fraction)

    def keeps(self, doc: DocumentStats) -> bool:
        if not doc.lines:
            return False
        share, char_share = _repeated_share(doc.lines)
        if share > self.max_line_fraction or char_share > self.max_line_char_fraction:
            return False
        share, char_share = _repeated_share(doc.paragraphs)
        return share <= self.max_paragraph_fraction and char_share <= self.max_paragraph_char_fraction


def _default_top_ngrams() -> dict[int, float]:
    return {2: 0.20, 3: 0.18, 4: 0.16}


def _default_duplicate_ngrams() -> dict[int, float]:
    return {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


_HASH_BASE = np.uint64(1_000_003)


@dataclass(frozen=True, kw_only=True)
class RepeatedNGrams(QualityRule):
    """Drop documents dominated by repeated word n-grams (Gopher, table A1); words are compared lowercased.

    ``top``: for n = 2, 3, 4, the most frequent n-gram (if it occurs more than once; the longest such if tied)
    may cover at most this share of the word characters (0.20, 0.18, 0.16). ``duplicate``: for n = 5..10, the
    words inside n-grams that repeat an earlier n-gram may hold at most this share of the characters (0.15 down
    to 0.10); overlapping n-grams count each word once.
    """

    top: dict[int, float] = field(default_factory=_default_top_ngrams)
    duplicate: dict[int, float] = field(default_factory=_default_duplicate_ngrams)
    name: ClassVar[str] = "repeated_ngrams"
    source: ClassVar[str] = "Gopher (Rae et al. 2021), table A1"

    def __post_init__(self):
        for n, share in {**self.top, **self.duplicate}.items():
            if not isinstance(n, int) or n < 1:
                raise ValueError(f"{self.name}: n-gram sizes must be positive integers; got {n!r}.")
            check_fraction(self.name, **{f"n={n}": share})

    def __hash__(self):  # the generated hash would fail on the dict fields
        return hash((tuple(sorted(self.top.items())), tuple(sorted(self.duplicate.items()))))

    def keeps(self, doc: DocumentStats) -> bool:
        words, total = doc.lowercase_words, doc.word_characters
        if not total:
            return False
        largest = max((n for n in {*self.top, *self.duplicate} if n <= len(words)), default=0)
        if not largest:
            return True
        # Vectorised: one integer per word (Python's string hash), rolling n-gram hashes, prefix sums of lengths.
        ids = np.fromiter(map(hash, words), dtype=np.int64, count=len(words)).view(np.uint64)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        prefix = np.concatenate(([0], np.cumsum(lengths)))
        hashes = ids
        for n in range(1, largest + 1):
            if n > 1:
                hashes = hashes[:-1] * _HASH_BASE + ids[n - 1 :]
            if n not in self.top and n not in self.duplicate:
                continue
            _, first, inverse, counts = np.unique(hashes, return_index=True, return_inverse=True, return_counts=True)
            most = counts.max()
            if most < 2:
                return True  # no n-gram repeats, so no longer one can either
            if n in self.top:
                starts = np.flatnonzero(counts[inverse] == most)
                if (prefix[starts + n] - prefix[starts]).max() * most / total > self.top[n]:
                    return False
            if n in self.duplicate:
                repeated = np.ones(len(hashes), dtype=bool)
                repeated[first] = False
                starts = np.flatnonzero(repeated)
                # mark the words covered by any repeated n-gram: +1 at each start, -1 after each end, running sum
                marks = np.zeros(len(words) + 1, dtype=np.int64)
                np.add.at(marks, starts, 1)
                np.add.at(marks, starts + n, -1)
                if lengths[np.cumsum(marks[:-1]) > 0].sum() / total > self.duplicate[n]:
                    return False
        return True
