"""Quality rules for cleaning pretraining text: the Gopher and C4 document filters as small configurable objects
(private: built by name through ``filters.default_rules``; ``QualityRule`` is the public base for your own).

Each rule looks at one document's :class:`DocumentStats` and says whether the document is kept. Thresholds
default to the published values (Gopher: Rae et al. 2021, appendix A; C4: Raffel et al. 2020, section 2.2).
The repetition rules live in :mod:`filters.repetition`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar

# Gopher's English stop-word test: a document must contain at least two of these words.
GOPHER_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
_BULLETS = ("-", "*", "•", "‣", "◦", "⁃", "–", "—", "·")
_ELLIPSES = ("...", "…")
# Known HTML element names only, so that placeholders such as WikiText's "<unk>" are not counted as markup.
_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|blockquote|body|br|button|code|div|em|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|"
    r"input|li|link|meta|nav|ol|option|p|pre|script|section|select|small|span|strong|style|sub|sup|table|tbody|"
    r"td|th|thead|title|tr|u|ul)(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
# Whitespace-separated tokens holding a letter or digit (content words) / a letter (alphabetic words).
# A whitespace-separated word counts when it holds a letter or digit (a content word) or a letter (alphabetic).
# Tested word by word: a pattern such as r"\S*[^\W_]\S*" over the whole text backtracks quadratically on long
# runs of symbols (16,000 dashes took 3.4 s), and web dumps have megabyte lines of them.
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")
_LETTER = re.compile(r"[^\W\d_]")
_HTML_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{1,6}|#x[0-9a-fA-F]{1,6});")
# Line-break tags: a paragraph or line break written in HTML (IMDB reviews keep "<br /><br />" between paragraphs).
_BREAK_TAG = re.compile(r"</?(?:br|p|hr)(?:\s[^<>]*)?/?>", re.IGNORECASE)
# Script and style elements hold code, not text: one is enough to drop a document (as C4 does for "{").
_CODE_TAG = re.compile(r"<(?:script|style)(?:\s[^<>]*)?>", re.IGNORECASE)


class DocumentStats:
    """The views of one document that the rules share, each computed once and only when a rule asks.

    Words are whitespace-separated tokens (as in Gopher); ``content_words`` drops tokens without a letter or
    digit, so tokenized text (WikiText's " , ") and running text give similar counts and lengths.
    """

    def __init__(self, text: str | None):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"quality rules take text (a str, or None for a missing document); got a "
                            f"{type(text).__name__}: {text!r:.80}. Decode bytes first (text.decode('utf-8')).")
        self.text = text or ""

    @cached_property
    def words(self) -> list[str]:
        return self.text.split()

    @cached_property
    def lowercase_words(self) -> list[str]:
        return self.text.lower().split()

    @cached_property
    def content_words(self) -> list[str]:
        return [word for word in self.words if _LETTER_OR_DIGIT.search(word)]

    @cached_property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.text.split("\n") if line.strip()]

    @cached_property
    def paragraphs(self) -> list[str]:
        return [part.strip() for part in re.split(r"\n\s*\n", self.text) if part.strip()]

    @cached_property
    def word_characters(self) -> int:
        return sum(map(len, self.words))


class QualityRule:
    """Base class of the quality rules, public for your own: ``keeps(doc)`` returns True when the document
    passes (``doc.text``, ``doc.words``, ``doc.lines``, ... are computed once and shared by the rules), and
    ``name`` goes in the reason column. The built-in rules are configured by name through
    :func:`greennlp.filters.default_rules`; a rule called on one string says whether it is kept.

    >>> class NoDigits(QualityRule):
    ...     name = "no_digits"
    ...     def keeps(self, doc):
    ...         return not any(character.isdigit() for character in doc.text)
    >>> NoDigits()("call 555"), NoDigits()("no numbers here")
    (False, True)
    """

    name: ClassVar[str] = "rule"
    source: ClassVar[str] = ""

    def keeps(self, doc: DocumentStats) -> bool:
        raise NotImplementedError

    def __call__(self, text: str) -> bool:
        """Check a single string (convenient in notebooks and tests)."""
        return self.keeps(DocumentStats(text))


def check_fraction(owner: str, **values: float) -> None:
    for key, value in values.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{owner}({key}={value!r}): a fraction must lie in [0, 1].")


def check_min_lines(owner: str, value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}(min_lines={value!r}): must be an integer >= 1 (1 applies the rule to every "
                         "document).")


@dataclass(frozen=True, kw_only=True)
class WordCount(QualityRule):
    """Keep documents with ``min_words`` to ``max_words`` words (Gopher: 50 to 100,000).

    A rule called on a string says whether the document is kept:

    >>> WordCount(min_words=3)("too short"), WordCount(min_words=3)("long enough now")
    (False, True)
    """

    min_words: int = 50
    max_words: int = 100_000
    name: ClassVar[str] = "word_count"
    source: ClassVar[str] = "Gopher (Rae et al. 2021), table A1"

    def __post_init__(self):
        if not 0 <= self.min_words <= self.max_words:
            raise ValueError(f"{self.name} needs 0 <= min_words <= max_words; got {self.min_words}, {self.max_words}.")

    def keeps(self, doc: DocumentStats) -> bool:
        return self.min_words <= len(doc.content_words) <= self.max_words


@dataclass(frozen=True, kw_only=True)
class MeanWordLength(QualityRule):
    """Keep documents whose mean word length lies in [``min_length``, ``max_length``] characters (Gopher: 3-10)."""

    min_length: float = 3.0
    max_length: float = 10.0
    name: ClassVar[str] = "mean_word_length"
    source: ClassVar[str] = "Gopher (Rae et al. 2021), table A1"

    def __post_init__(self):
        if not 0 <= self.min_length <= self.max_length:
            raise ValueError(f"{self.name} needs 0 <= min_length <= max_length; got {self.min_length}, "
                             f"{self.max_length}.")

    def keeps(self, doc: DocumentStats) -> bool:
        words = doc.content_words
        if not words:
            return False
        mean = sum(map(len, words)) / len(words)
        return self.min_length <= mean <= self.max_length


@dataclass(frozen=True, kw_only=True)
class AlphabeticWords(QualityRule):
    """Keep documents where at least ``min_fraction`` of words contain a letter (Gopher: 0.8).

    This is the non-text / gibberish test: tables of numbers, code and symbol soup fail it.
    """

    min_fraction: float = 0.8
    name: ClassVar[str] = "alphabetic_words"
    source: ClassVar[str] = "Gopher (Rae et al. 2021), table A1"

    def __post_init__(self):
        check_fraction(self.name, min_fraction=self.min_fraction)

    def keeps(self, doc: DocumentStats) -> bool:
        words = doc.words
        if not words:
            return False
        return sum(1 for word in words if _LETTER.search(word)) / len(words) >= self.min_fraction


@dataclass(frozen=True, kw_only=True)
class SymbolRatio(QualityRule):
    """Drop documents with more than ``max_ratio`` hash or ellipsis symbols per word (Gopher: 0.1)."""

    max_ratio: float = 0.1
    symbols: tuple[str, ...] = ("#", "...", "…")
    name: ClassVar[str] = "symbol_ratio"
    source: ClassVar[str] = "Gopher (Rae et al. 2021), table A1"

    def keeps(self, doc: DocumentStats) -> bool:
        if not doc.words:
            return False
        # Count "..." before "." style overlaps only once: remove each symbol after counting it.
        text, count = doc.text, 0
        for symbol in sorted(self.symbols, key=len, reverse=True):
            count += text.count(symbol)
            text = text.replace(symbol, " ")
        return count / len(doc.words) <= self.max_ratio


@dataclass(frozen=True, kw_only=True)
class EllipsisLines(QualityRule):
    """Drop documents where more than ``max_fraction`` of lines end in an ellipsis (Gopher: 0.3).

    Gopher's line rules describe pages made of lines (lists of teasers, "Read more..." links). A document of
    fewer than ``min_lines`` lines (default 3) is not such a list and is kept by this rule: a one-line review
    whose only line ends in "..." would otherwise be dropped as 100% ellipsis lines. Empty documents still fail.

    >>> EllipsisLines()("A review that trails off..."), EllipsisLines()("Teaser one...\\nTeaser two...\\nThree...")
    (True, False)
    """

    max_fraction: float = 0.3
    min_lines: int = 3
    name: ClassVar[str] = "ellipsis_lines"
    source: ClassVar[str] = "Gopher (Rae et al. 2021), table A1; min_lines: greennlp"

    def __post_init__(self):
        check_fraction(self.name, max_fraction=self.max_fraction)
        check_min_lines(self.name, self.min_lines)

    def keeps(self, doc: DocumentStats) -> bool:
        lines = doc.lines
        if not lines:
            return False
        if len(lines) < self.min_lines:  # a line rule needs lines: one review that trails off is not a teaser list
            return True
        return sum(line.endswith(_ELLIPSES) for line in lines) / len(lines) <= self.max_fraction


@dataclass(frozen=True, kw_only=True)
class BulletLines(QualityRule):
    """Drop documents where more than ``max_fraction`` of lines start with a bullet point (Gopher: 0.9).

    As for the ``ellipsis_lines`` rule, documents of fewer than ``min_lines`` lines (default 3) are kept by this rule.
    """

    max_fraction: float = 0.9
    min_lines: int = 3
    name: ClassVar[str] = "bullet_lines"
    source: ClassVar[str] = "Gopher (Rae et al. 2021), table A1; min_lines: greennlp"

    def __post_init__(self):
        check_fraction(self.name, max_fraction=self.max_fraction)
        check_min_lines(self.name, self.min_lines)

    def keeps(self, doc: DocumentStats) -> bool:
        lines = doc.lines
        if not lines:
            return False
        if len(lines) < self.min_lines:  # a one-line review that opens with "-" or "*" is not a bullet list
            return True
        return sum(line.startswith(_BULLETS) for line in lines) / len(lines) <= self.max_fraction


@dataclass(frozen=True, kw_only=True)
class LeftoverMarkup(QualityRule):
    """Drop documents with leftover HTML or code and placeholder text.

    What counts, per word of the document (thresholds are our choice, no published value):

    - ``max_tag_density`` (0.02, one per 50 words): HTML tags other than line breaks (``<div>``, ``<a>``,
      ``<span>``, ...), the signs of a markup page.
    - ``max_break_density`` (0.1): line-break tags ``<br>``, ``<p>``, ``<hr>``. In running text they are a
      paragraph break written in HTML (IMDB reviews keep ``<br /><br />`` between paragraphs); only a page made
      of them (one every few words) is dropped.
    - ``max_entity_density`` (0.1): character entities such as ``&amp;`` or ``&#39;``. An escaped character is
      text, not markup: news text with a few entities is kept, entity soup is dropped. Broken entity fragments
      (``" #39;s"``, ``" amp;"``, where the "&" was lost) are not counted at all.

    ``phrases`` (C4: "lorem ipsum"), ``characters`` (C4: "{", a sign of code) and, with ``code_tags``,
    ``<script>`` and ``<style>`` elements (code, not text) drop a document on a single occurrence; pass empty
    tuples or ``code_tags=False`` to turn them off.
    """

    max_tag_density: float = 0.02
    max_break_density: float = 0.1
    max_entity_density: float = 0.1
    phrases: tuple[str, ...] = ("lorem ipsum",)
    characters: tuple[str, ...] = ("{",)
    code_tags: bool = True
    name: ClassVar[str] = "markup"
    source: ClassVar[str] = "C4 (Raffel et al. 2020) for phrases and '{'; tag, break and entity densities: greennlp"

    def keeps(self, doc: DocumentStats) -> bool:
        text = doc.text
        if any(ch in text for ch in self.characters):
            return False
        lowered = text.lower()
        if any(phrase in lowered for phrase in self.phrases):
            return False
        if "<" not in text and "&" not in text:
            return True
        words = max(len(doc.words), 1)
        if "<" in text:
            if self.code_tags and _CODE_TAG.search(text):
                return False
            breaks = len(_BREAK_TAG.findall(text))
            tags = len(_HTML_TAG.findall(text)) - breaks
            if tags / words > self.max_tag_density or breaks / words > self.max_break_density:
                return False
        return "&" not in text or len(_HTML_ENTITY.findall(text)) / words <= self.max_entity_density


def stop_words_for(language: str) -> frozenset[str]:
    """spaCy's stop-word list for ``language`` (an ISO code such as "de"); works offline."""
    import importlib

    try:
        module = importlib.import_module(f"spacy.lang.{language}.stop_words")
    except ModuleNotFoundError as error:
        raise ValueError(f"spaCy has no stop-word list for language {language!r}; pass stop_words= yourself.") \
            from error
    return frozenset(module.STOP_WORDS)


@dataclass(frozen=True, kw_only=True)
class StopWords(QualityRule):
    """Keep documents in the target language: at least ``min_stop_words`` distinct stop words, and at least
    ``min_fraction`` of words that are stop words.

    Defaults follow Gopher: two of "the, be, to, of, and, that, have, with" for English. For other languages
    the list is spaCy's (``stop_words_for(language)``); pass ``stop_words`` to use your own.
    """

    language: str = "en"
    min_stop_words: int = 2
    min_fraction: float = 0.0
    stop_words: frozenset[str] | None = None
    name: ClassVar[str] = "stop_words"
    source: ClassVar[str] = "Gopher (Rae et al. 2021), section A.1.1; other languages: spaCy stop-word lists"

    def __post_init__(self):
        check_fraction(self.name, min_fraction=self.min_fraction)
        if self.stop_words is None:
            words = GOPHER_STOP_WORDS if self.language == "en" else stop_words_for(self.language)
            object.__setattr__(self, "stop_words", frozenset(words))
        else:
            object.__setattr__(self, "stop_words", frozenset(w.lower() for w in self.stop_words))

    def keeps(self, doc: DocumentStats) -> bool:
        words = doc.lowercase_words
        if not words:
            return False
        hits = [word for word in words if word in self.stop_words]
        return len(set(hits)) >= self.min_stop_words and len(hits) / len(words) >= self.min_fraction


@dataclass(frozen=True, kw_only=True)
class FoulWords(QualityRule):
    """Drop documents containing more than ``max_count`` words from a list you provide.

    No list ships with greennlp (C4 used the "List of Dirty, Naughty, Obscene or Otherwise Bad Words"; choose
    and licence your own). Give ``words`` or ``words_file`` (one word or phrase per line, matched lowercased).
    """

    words: frozenset[str] = frozenset()
    words_file: str | Path | None = None
    max_count: int = 0
    name: ClassVar[str] = "foul_words"
    source: ClassVar[str] = "C4 (Raffel et al. 2020); word list supplied by the user"

    def __post_init__(self):
        words = {w.strip().lower() for w in self.words if w.strip()}
        if self.words_file is not None:
            path = Path(self.words_file)
            if not path.is_file():
                raise ValueError(f"{self.name}(words_file={str(path)!r}): no such file.")
            words |= {line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}
        if not words:
            raise ValueError("The foul_words rule needs a word list: default_rules(foul_words={'words': {...}}) or "
                             "default_rules(foul_words={'words_file': 'list.txt'}) (greennlp ships none).")
        object.__setattr__(self, "words", frozenset(w for w in words if " " not in w))
        object.__setattr__(self, "_phrases", tuple(w for w in words if " " in w))

    def keeps(self, doc: DocumentStats) -> bool:
        count = sum(1 for word in doc.lowercase_words if word.strip(".,;:!?\"'()") in self.words)
        if self._phrases:
            lowered = " ".join(doc.lowercase_words)
            count += sum(lowered.count(phrase) for phrase in self._phrases)
        return count <= self.max_count
