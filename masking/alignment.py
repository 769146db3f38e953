"""Map spaCy words onto subword tokens by character offsets, and tag a whole ``Dataset`` with ``map``.

Works for any fast tokenizer (WordPiece, byte-level BPE, SentencePiece/Unigram) because it only looks at
``offset_mapping``: a token belongs to the words its character span overlaps.
"""
from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from itertools import chain

import datasets
import numpy as np
from datasets import Dataset, IterableDataset
from transformers import PreTrainedTokenizerBase

from .tagger import ContentWordTagger

#: Columns added by :func:`add_content_word_mask` and read by the content-masking collator.
CONTENT_MASK_COLUMN = "content_word_mask"
WORD_IDS_COLUMN = "word_ids"


def align_words_to_tokens(
    offset_mapping: Sequence[Sequence[int]] | np.ndarray,
    word_spans: np.ndarray,
    special_tokens_mask: Sequence[int] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-token content flags and word ids for one tokenized text.

    Parameters
    ----------
    offset_mapping:
        ``(n_tokens, 2)`` character offsets from a fast tokenizer.
    word_spans:
        ``(n_words, 3)`` rows of ``start, end, is_content`` sorted by ``start``
        (from :meth:`ContentWordTagger.word_spans`).
    special_tokens_mask:
        1 for special tokens, which never belong to a word.

    Returns
    -------
    content_word_mask:
        int8, 1 where every word the token overlaps is a content word (a token that straddles a content
        word and a function word is not content, so function words are never masked).
    word_ids:
        int32, index of the (last) word the token overlaps, -1 for special tokens and tokens that cover
        only whitespace, or only punctuation left out of the words' spans (:meth:`ContentWordTagger.word_spans`
        leaves out the punctuation around and inside a content word, as in "responded!Their" or "8/15/06", so
        such a token is never content). Sub-tokens of one word share its id, which is how whole words are
        masked together.

    Examples
    --------
    "a tiger" tokenized as ``[CLS] a ti ##ger [SEP]``; "a" is a function word, "tiger" a content word:

    >>> spans = np.array([[0, 1, 0], [2, 7, 1]])
    >>> offsets = [(0, 0), (0, 1), (2, 4), (4, 7), (0, 0)]
    >>> content, word_ids = align_words_to_tokens(offsets, spans, special_tokens_mask=[1, 0, 0, 0, 1])
    >>> content.tolist(), word_ids.tolist()
    ([0, 0, 1, 1, 0], [-1, 0, 1, 1, -1])
    """
    special = [special_tokens_mask] if special_tokens_mask is not None else None
    (content,), (word_ids,) = align_batch([offset_mapping], [word_spans], special)
    return content, word_ids


def align_batch(
    offset_mappings: Sequence, word_spans: Sequence[np.ndarray], special_tokens_masks: Sequence | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """:func:`align_words_to_tokens` for many texts at once, vectorized over the whole batch.

    Each text's offsets are shifted into its own band (text index << 32) so that one ``searchsorted``
    over the concatenated words serves every text; per-text numpy calls would cost more than the work.
    """
    n_texts = len(offset_mappings)
    token_counts = np.fromiter((len(o) for o in offset_mappings), dtype=np.int64, count=n_texts)
    word_counts = np.fromiter((len(w) for w in word_spans), dtype=np.int64, count=n_texts)
    offsets = np.fromiter(chain.from_iterable(chain.from_iterable(offset_mappings)), dtype=np.int64,
                          count=2 * int(token_counts.sum())).reshape(-1, 2)
    token_band = np.repeat(np.arange(n_texts, dtype=np.int64) << 32, token_counts)
    starts, ends = offsets[:, 0] + token_band, offsets[:, 1] + token_band
    spans = np.concatenate([np.asarray(w, dtype=np.int64).reshape(-1, 3) for w in word_spans]) if n_texts else np.zeros((0, 3), np.int64)
    word_band = np.repeat(np.arange(n_texts, dtype=np.int64) << 32, word_counts)
    first = np.searchsorted(spans[:, 1] + word_band, starts, side="right")  # first word ending after the start
    last = np.searchsorted(spans[:, 0] + word_band, ends, side="left") - 1  # last word starting before the end
    n_overlapping = last - first + 1
    content_prefix = np.concatenate([[0], np.cumsum(spans[:, 2])])
    n_content = content_prefix[np.maximum(last + 1, 0)] - content_prefix[np.minimum(first, len(spans))]
    valid = (n_overlapping > 0) & (ends > starts)
    if special_tokens_masks is not None:
        special = np.fromiter(chain.from_iterable(special_tokens_masks), dtype=np.int64, count=len(offsets))
        valid &= special == 0
    content = (valid & (n_content == n_overlapping)).astype(np.int8)
    first_word_of_text = np.repeat(np.concatenate([[0], np.cumsum(word_counts)[:-1]]), token_counts)
    word_ids = np.where(valid, last - first_word_of_text, -1).astype(np.int32)
    splits = np.cumsum(token_counts)[:-1]
    return np.split(content, splits), np.split(word_ids, splits)


def add_content_word_mask(
    dataset: Dataset | IterableDataset,
    tokenizer: PreTrainedTokenizerBase,
    tagger: ContentWordTagger | None = None,
    *,
    text_column: str = "text",
    max_length: int | None = 128,
    batch_size: int = 1000,
    keep_offsets: bool = False,
    remove_columns: Sequence[str] | None = None,
    num_proc: int | None = None,
    progress: bool = True,
) -> Dataset | IterableDataset:
    """Tokenize ``text_column`` and add a per-token ``content_word_mask`` (1 = part of a content word).

    A batched, cached ``datasets.map``: the result has ``input_ids``, ``attention_mask``
    (``token_type_ids`` when the tokenizer makes them), ``special_tokens_mask``, ``content_word_mask`` and
    ``word_ids`` (see :func:`align_words_to_tokens`), plus ``offset_mapping`` when ``keep_offsets`` (the HF
    whole-word collator needs it). Works on ``Dataset`` and streaming ``IterableDataset``.

    Parameters
    ----------
    tokenizer : PreTrainedTokenizerBase
        A fast tokenizer (offsets are needed to align words with subwords).
    tagger : ContentWordTagger, optional
        Decides the content words; ``ContentWordTagger()`` (spaCy ``en_core_web_sm``) when ``None``.
    max_length : int or None
        Truncate to this many tokens (default 128; ``None``: no truncation, e.g. before packing).
    batch_size : int
        Texts per ``map`` batch, tokenized and tagged together (default 1000).
    remove_columns : sequence of str, optional
        Columns to drop (the text column is kept unless listed).
    num_proc : int, optional
        Worker processes for ``Dataset.map`` (spaCy's own ``n_process`` is set on the tagger).
    progress : bool
        Show the progress bar of ``Dataset.map`` ("Tagging content words"); ``False`` hides it for this call.
        A streaming ``IterableDataset`` is tagged lazily, as it is read, so it shows none.

    Raises
    ------
    ValueError
        When a text is missing (``None``), naming the column and the row; ``TypeError`` for other non-strings.

    Examples
    --------
    >>> ds = add_content_word_mask(ds, tokenizer, ContentWordTagger("en_core_web_sm"))  # doctest: +SKIP
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"{type(tokenizer).__name__} is a slow tokenizer without offset mappings, which content-word "
            "alignment needs. Load the fast version: greennlp.encoders.load_tokenizer(name) "
            "(or AutoTokenizer.from_pretrained(name, use_fast=True))."
        )
    columns = dataset.column_names
    if columns is not None and text_column not in columns:
        raise ValueError(f"Column {text_column!r} not in the dataset (columns: {columns}); pass text_column=.")
    tagger = tagger if tagger is not None else ContentWordTagger()
    tagger._ensure_loaded()

    def tag_batch(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        texts = batch[text_column]
        _check_texts(texts, indices, text_column)
        encoded = tokenizer(
            texts,
            truncation=max_length is not None,
            max_length=max_length,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        content, words = align_batch(
            encoded["offset_mapping"], list(tagger.word_spans(texts)), encoded["special_tokens_mask"])
        encoded[CONTENT_MASK_COLUMN] = [row.tolist() for row in content]
        encoded[WORD_IDS_COLUMN] = [row.tolist() for row in words]
        if not keep_offsets:
            del encoded["offset_mapping"]
        return dict(encoded)

    kwargs = dict(batched=True, with_indices=True, batch_size=batch_size, remove_columns=list(remove_columns or []))
    if isinstance(dataset, IterableDataset):
        return dataset.map(tag_batch, **kwargs)
    fingerprint = _fingerprint(dataset, tokenizer, tagger, text_column, max_length, keep_offsets, kwargs)
    with _progress_bars(progress):
        return dataset.map(tag_batch, num_proc=num_proc, new_fingerprint=fingerprint,
                           desc="Tagging content words", **kwargs)


def _check_texts(texts: list, indices: list[int], text_column: str) -> None:
    for text, row in zip(texts, indices, strict=True):
        if text is None:
            raise ValueError(f"add_content_word_mask(): row {row} of column {text_column!r} is None (a missing "
                             "text). Drop such rows (dataset.filter) or replace them with '' first.")
        if not isinstance(text, str):
            raise TypeError(f"add_content_word_mask(): row {row} of column {text_column!r} holds a "
                            f"{type(text).__name__}, not a string: {text!r:.80}.")


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[None]:
    """Hide ``datasets``' progress bars for the block when ``enabled`` is False, then restore the setting
    (``datasets`` has no per-call switch); with ``enabled`` the user's own setting is left as it is."""
    if enabled or not datasets.is_progress_bar_enabled():
        yield
        return
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        datasets.enable_progress_bars()


def _fingerprint(dataset, tokenizer, tagger, *settings) -> str:
    # The spaCy pipeline and tokenizer objects are slow or impossible to hash with dill, so the cache key is
    # built from what determines the output: the input fingerprint, the tokenizer's serialized form, the
    # pipeline's name, components and version, and the settings.
    nlp = tagger.nlp_
    parts = [
        dataset._fingerprint,
        tokenizer.backend_tokenizer.to_str(),
        repr(tagger),
        nlp.meta.get("name", ""),
        nlp.meta.get("version", ""),
        repr(nlp.pipe_names),
        nlp.config.to_str(),
        repr(settings),
        "content-word-mask-v2",  # v2: punctuation inside a spaCy token ends a content word
    ]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
