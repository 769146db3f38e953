"""Decide which words are content words with spaCy, and return them as character spans.

The tagger runs only the pipeline components that assign parts of speech; without a trained pipeline it
falls back (with one warning) to lexical rules on ``spacy.blank(lang)``.
"""
from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import spacy
from spacy.attrs import IDX, IS_SPACE, IS_STOP, LENGTH, ORTH, POS
from spacy.language import Language
from spacy.parts_of_speech import IDS as POS_IDS
from tqdm.auto import tqdm

#: Universal POS tags counted as content words by default.
DEFAULT_CONTENT_POS: tuple[str, ...] = ("NOUN", "PROPN", "VERB", "ADJ", "ADV", "NUM")

#: Universal POS tags that are never content words, whatever ``content_pos`` says.
FUNCTION_POS: frozenset[str] = frozenset(
    {"AUX", "DET", "PRON", "ADP", "CCONJ", "CONJ", "SCONJ", "PART", "PUNCT", "SYM", "SPACE"}
)

# Components that assign POS in spaCy's trained pipelines; everything else (parser, ner, lemmatizer, ...)
# is disabled because content-word decisions never need it.
_POS_COMPONENTS = ("tok2vec", "transformer", "tagger", "morphologizer", "attribute_ruler")

STRATEGIES = ("auto", "pos", "lexical")

# Characters a word is made of: letters, marks (Devanagari vowel signs, accents) and numbers, plus format
# characters such as the zero-width non-joiner inside Persian words. Everything else (punctuation, symbols)
# ends a content word's span.
_WORD_CATEGORIES = frozenset({"L", "M", "N"})
# Apostrophes, which spaCy's tokenizer needs to see to split contractions ("don't" -> "do", "n't").
_APOSTROPHES = frozenset("'\u2018\u2019")

_warned_fallback: set[str] = set()


class ContentWordTagger:
    """Find content words in texts with a spaCy pipeline.

    A word is a content word when

    - its universal POS is in ``content_pos`` (strategy ``"pos"``, used when the pipeline has a tagger or
      morphologizer), or it is any word (strategy ``"lexical"``, the ``spacy.blank`` fallback), and
    - it is not a stop word (``exclude_stop_words=True``), and
    - it contains at least one letter or digit (the small taggers sometimes call "-" or "%" a noun).

    A content word's span holds only its letters, digits and marks: punctuation at its ends ("violin-") and
    inside it is left out. A spaCy token with punctuation inside ("responded!Their", "weeks,(many", "8/15/06",
    "http://") gives one word per run of letters and digits, each checked on its own ("Their" and "many" are
    stop words), so that no subword token for the punctuation is ever masked as part of a content word.

    Parameters
    ----------
    model:
        A spaCy pipeline name or path (default ``"en_core_web_sm"``), a loaded ``spacy.Language``, or
        ``"blank"`` for ``spacy.blank(lang)`` on purpose (lexical rules, no warning). When a name cannot be
        loaded the tagger warns once and uses ``spacy.blank(lang)``. A ``Language`` you pass is used as is,
        with the components that do not assign POS disabled (``nlp.disable_pipe``).
    content_pos:
        Universal POS tags that count as content words. Function-word tags (AUX, DET, PRON, ADP, CCONJ,
        SCONJ, PART, PUNCT, SYM) are refused.
    exclude_stop_words:
        Treat the pipeline's stop words as function words even when their POS is a content tag
        (e.g. "very", "made").
    strategy:
        ``"auto"`` (``"pos"`` if the pipeline assigns POS, else ``"lexical"``), ``"pos"`` or ``"lexical"``.
    lang:
        Language of the ``spacy.blank`` fallback.
    batch_size, n_process:
        Passed to ``nlp.pipe``.

    Attributes
    ----------
    nlp_:
        The loaded pipeline, with only the components needed enabled (set on first use or by :meth:`load`).
    strategy_:
        The strategy in force: ``"pos"`` or ``"lexical"``.

    Examples
    --------
    >>> tagger = ContentWordTagger("en_core_web_sm")                      # doctest: +SKIP
    >>> tagger.content_words(["A tiger is eating the carrot."])          # doctest: +SKIP
    [['tiger', 'eating', 'carrot']]

    Without a trained pipeline, ``"blank"`` applies the lexical rules (any non-stop word with a letter or digit):

    >>> ContentWordTagger("blank").content_words(["A tiger is eating the carrot."])
    [['tiger', 'eating', 'carrot']]
    """

    def __init__(
        self,
        model: str | Language = "en_core_web_sm",
        *,
        content_pos: Sequence[str] = DEFAULT_CONTENT_POS,
        exclude_stop_words: bool = True,
        strategy: str = "auto",
        lang: str = "en",
        batch_size: int = 256,
        n_process: int = 1,
    ) -> None:
        self.model = model
        self.content_pos = content_pos
        self.exclude_stop_words = exclude_stop_words
        self.strategy = strategy
        self.lang = lang
        self.batch_size = batch_size
        self.n_process = n_process

    # ------------------------------------------------------------------ setup
    def load(self) -> ContentWordTagger:
        """Load the pipeline and decide the strategy (called on first use); returns ``self``."""
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy={self.strategy!r}; choose one of {STRATEGIES}.")
        unknown = [tag for tag in self.content_pos if tag not in POS_IDS]
        if unknown:
            raise ValueError(f"content_pos has unknown universal POS tags {unknown}; use tags from {DEFAULT_CONTENT_POS}.")
        forbidden = sorted(set(self.content_pos) & FUNCTION_POS)
        if forbidden:
            raise ValueError(f"content_pos contains function-word tags {forbidden}; these are never content words.")
        nlp = self.model if isinstance(self.model, Language) else _load_pipeline(self.model, self.lang)
        for name in nlp.pipe_names:
            if name not in _POS_COMPONENTS:
                nlp.disable_pipe(name)
        assigns_pos = any(nlp.has_pipe(name) for name in ("tagger", "morphologizer"))
        strategy = self.strategy if self.strategy != "auto" else ("pos" if assigns_pos else "lexical")
        self.nlp_ = nlp
        self.strategy_ = strategy
        self._content_pos_ids = np.array([POS_IDS[tag] for tag in self.content_pos], dtype=np.uint64)
        self._lexical_cache: dict[int, tuple[bool, np.ndarray]] = {}
        return self

    def _ensure_loaded(self) -> None:
        if not hasattr(self, "nlp_"):
            self.load()

    # ------------------------------------------------------------------ tagging
    def word_spans(self, texts: Iterable[str], *, progress: bool = False) -> Iterator[np.ndarray]:
        """Yield, for each text, an ``(n_words, 3)`` int64 array of ``start, end, is_content`` rows.

        Offsets are character offsets into the text (as ``offset_mapping`` from a fast tokenizer);
        whitespace tokens, and punctuation around or inside a content word, are left out, so the rows are
        sorted and do not overlap. ``progress=True`` shows a progress bar over the texts (off by default:
        :func:`add_content_word_mask` calls this per batch and shows its own bar over the whole dataset).
        """
        self._ensure_loaded()
        total = len(texts) if hasattr(texts, "__len__") else None
        texts = (_check_text(text) for text in texts)
        docs = self.nlp_.pipe(texts, batch_size=self.batch_size, n_process=self.n_process)
        chunk = []
        for doc in tqdm(docs, total=total, desc="Tagging content words", unit="text", disable=not progress):
            chunk.append(doc)
            if len(chunk) == self.batch_size:
                yield from self._chunk_spans(chunk)
                chunk = []
        if chunk:
            yield from self._chunk_spans(chunk)

    def _chunk_spans(self, docs: list) -> list[np.ndarray]:
        # Vectorized over a chunk of documents: per-document numpy calls would cost as much as the blank
        # pipeline's tokenization itself.
        vocab = docs[0].vocab
        arrays = [doc.to_array([IDX, LENGTH, POS, IS_STOP, IS_SPACE, ORTH]).reshape(-1, 6) for doc in docs]
        array = np.concatenate(arrays)
        unique_orths, inverse = np.unique(array[:, 5], return_inverse=True)
        forms = [self._lexical(vocab, int(orth)) for orth in unique_orths]
        content = np.array([ok for ok, _ in forms], dtype=bool)[inverse]
        if self.strategy_ == "pos":
            content &= np.isin(array[:, 2], self._content_pos_ids)
        if self.exclude_stop_words:
            content &= array[:, 3] == 0
        # A content token becomes one row per piece (its runs of letters, digits and marks), so that
        # punctuation inside or around it ("violin-", "responded!Their", "8/15/06") is in no content word's
        # span and a subword token for it is never content; any other token is one non-content row.
        piece_counts = np.array([len(pieces) for _, pieces in forms], dtype=np.int64)
        piece_table = np.concatenate([pieces for _, pieces in forms] + [np.zeros((1, 3), np.int64)])
        first_piece = np.concatenate([[0], np.cumsum(piece_counts)[:-1]])[inverse]
        rows_per_token = np.where(content, piece_counts[inverse], 1) * (array[:, 4] == 0)  # no whitespace rows
        token = np.repeat(np.arange(len(array)), rows_per_token)
        rank = np.arange(len(token)) - np.repeat(np.cumsum(rows_per_token) - rows_per_token, rows_per_token)
        is_piece = content[token]
        piece = piece_table[np.where(is_piece, first_piece[token] + rank, len(piece_table) - 1)]
        starts = array[token, 0].astype(np.int64)
        ends = np.where(is_piece, starts + piece[:, 1], starts + array[token, 1].astype(np.int64))
        spans = np.stack([starts + piece[:, 0], ends, piece[:, 2]], axis=1)
        doc_of_token = np.repeat(np.arange(len(arrays)), [len(a) for a in arrays])
        rows_per_doc = np.bincount(doc_of_token, weights=rows_per_token, minlength=len(arrays)).astype(np.int64)
        return np.split(spans, np.cumsum(rows_per_doc)[:-1])

    def _lexical(self, vocab, orth: int) -> tuple[bool, np.ndarray]:
        """``(ok, pieces)`` for a word form. ``pieces`` are ``(start, end, ok)`` rows, relative to the form, for
        its runs of letters, digits and marks; the form is ``ok`` when one of its pieces is and its core (without
        the punctuation at its ends) is no stop word either ("was-" is one spaCy token whose own ``is_stop`` is
        False).

        A piece is ``ok`` when it has a letter or digit and (with ``exclude_stop_words``) is no stop word. A form
        with punctuation inside ("responded!Their", "weeks,(many", "Combs)don't") is split where spaCy would
        have split it had the punctuation been a space, so that "Their", "many" and "n't" are stop words there.

        Cached per vocabulary entry: word forms repeat across a corpus.
        """
        value = self._lexical_cache.get(orth)
        if value is None:
            text = vocab.strings[orth]
            runs = _word_pieces(text)
            if len(runs) > 1:
                spaced = "".join(ch if _is_word_character(ch) or ch in _APOSTROPHES else " " for ch in text)
                words = [(word.idx, word.text) for word in self.nlp_.tokenizer(spaced) if not word.is_space]
                pieces = [(offset + start, offset + end, int(self._is_content_piece(vocab, word, start, end)))
                          for offset, word in words for start, end in _word_pieces(word)]
                ok = any(flag for _, _, flag in pieces) and self._is_content_piece(vocab, text, runs[0][0],
                                                                                   runs[-1][1])
            else:  # the common case: one word, perhaps with punctuation at its ends
                pieces = [(start, end, int(self._is_content_piece(vocab, text, start, end))) for start, end in runs]
                ok = bool(pieces) and bool(pieces[0][2])
            value = (ok, np.array(pieces, dtype=np.int64).reshape(-1, 3))
            self._lexical_cache[orth] = value
        return value

    def _is_content_piece(self, vocab, word: str, start: int, end: int) -> bool:
        """Whether ``word[start:end]`` has a letter or digit and is no stop word, also with the apostrophe
        before it ("'d" in "PPV'd"), and ``word`` as a whole is no stop word ("n't")."""
        piece = word[start:end]
        if not any(ch.isalnum() for ch in piece):
            return False
        if not self.exclude_stop_words:
            return True
        candidates = {piece, word}
        if start > 0 and word[start - 1] in _APOSTROPHES:
            candidates.add(word[start - 1:end])
        return not any(vocab[candidate].is_stop for candidate in candidates)

    def content_words(self, texts: Iterable[str], *, progress: bool = False) -> list[list[str]]:
        """The content words of each text, in order (for inspection and tests); ``progress`` as in
        :meth:`word_spans`."""
        texts = list(texts)
        return [
            [text[start:end] for start, end, is_content in spans if is_content]
            for text, spans in zip(texts, self.word_spans(texts, progress=progress), strict=True)
        ]

    def __repr__(self) -> str:
        model = self.model if isinstance(self.model, str) else f"<{type(self.model).__name__} {self.model.lang}>"
        loaded = f", strategy_={self.strategy_!r}" if hasattr(self, "strategy_") else ""
        return f"ContentWordTagger(model={model!r}, content_pos={tuple(self.content_pos)}{loaded})"


def _is_word_character(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in _WORD_CATEGORIES or category == "Cf"


def _word_pieces(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of word characters in ``text``."""
    pieces, start = [], None
    for i, ch in enumerate(text):
        if _is_word_character(ch):
            start = i if start is None else start
        elif start is not None:
            pieces.append((start, i))
            start = None
    if start is not None:
        pieces.append((start, len(text)))
    return pieces


def _check_text(text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"ContentWordTagger expects strings, got {type(text).__name__}: {text!r:.80}. "
                        "Replace missing texts with '' first (e.g. dataset.map).")
    return text


def _load_pipeline(name: str, lang: str) -> Language:
    if name == "blank":
        return spacy.blank(lang)
    try:
        return spacy.load(name)
    except OSError:
        if name not in _warned_fallback:
            _warned_fallback.add(name)
            warnings.warn(
                f"spaCy pipeline {name!r} is not installed; falling back to spacy.blank({lang!r}) with lexical "
                f"rules (a content word is any non-stop word with a letter or digit). For POS-based content words "
                f"install one: `python -m spacy download {name}` (or pass an installed pipeline's name or path).",
                UserWarning,
                stacklevel=3,
            )
        return spacy.blank(lang)
