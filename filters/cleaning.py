"""Run the quality rules over a Hugging Face ``Dataset`` or ``IterableDataset``: annotate, clean, summarise.

``annotate_quality`` adds a reason column ("" = kept), ``clean_corpus`` returns the kept documents and
``drop_summary`` counts the documents each rule dropped.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from datasets import Dataset, IterableDataset

from .heuristics import (
    AlphabeticWords,
    BulletLines,
    DocumentStats,
    EllipsisLines,
    FoulWords,
    LeftoverMarkup,
    MeanWordLength,
    QualityRule,
    StopWords,
    SymbolRatio,
    WordCount,
)
from .repetition import RepeatedLines, RepeatedNGrams

REASON_COLUMN = "drop_reason"


# The default chain, cheapest first: the Gopher quality and repetition filters plus C4's markup tests.
_DEFAULT_CHAIN = {
    "word_count": WordCount,
    "mean_word_length": MeanWordLength,
    "alphabetic_words": AlphabeticWords,
    "symbol_ratio": SymbolRatio,
    "ellipsis_lines": EllipsisLines,
    "bullet_lines": BulletLines,
    "markup": LeftoverMarkup,
    "stop_words": StopWords,
    "repeated_lines": RepeatedLines,
    "repeated_ngrams": RepeatedNGrams,
}
# Rules outside the default chain, added when given settings: a word list you supply, and langid.py
# (the ``langid`` extra; its drop reason is "language").
_OPTIONAL = {"foul_words": FoulWords, "language_id": None}
RULE_NAMES = (*_DEFAULT_CHAIN, *_OPTIONAL)


def _rule_class(name: str) -> type[QualityRule]:
    if name == "language_id":
        from .language import LanguageID  # imports nothing heavy until a rule is built

        return LanguageID
    return _DEFAULT_CHAIN.get(name) or _OPTIONAL[name]


def default_rules(*, language: str = "en", only: Sequence[str] | None = None,
                  **settings: Mapping[str, Any] | bool) -> list[QualityRule]:
    """The quality rules, configured by name: by default the chain of the Gopher quality and repetition filters
    plus C4's markup tests, cheapest first.

    Parameters
    ----------
    language : str
        The stop-word test's language (Gopher's eight words for "en", spaCy's list otherwise), and the language
        ``language_id`` keeps.
    only : sequence of str, optional
        The rules to build, in this order (e.g. ``("word_count", "repeated_lines")``); ``None``: the default
        chain, plus the optional rules given settings.
    **settings : dict or bool
        Per rule name, its options (``word_count={"min_words": 5}``), ``True`` for its defaults or ``False`` to
        leave it out. The names, in chain order: ``word_count``, ``mean_word_length``, ``alphabetic_words``,
        ``symbol_ratio``, ``ellipsis_lines``, ``bullet_lines``, ``markup``, ``stop_words``, ``repeated_lines``,
        ``repeated_ngrams``; two rules are off unless given settings: ``foul_words`` (needs
        ``{"words": {...}}`` or ``{"words_file": "list.txt"}``; no list ships) and ``language_id`` (langid.py,
        ``pip install 'greennlp[langid]'``). Each rule's name is also its drop reason (``language_id``'s is
        ``"language"``); docs/filters.md lists every option with its published value.

    Examples
    --------
    >>> [rule.name for rule in default_rules(only=("word_count", "markup"))]
    ['word_count', 'markup']
    >>> rules = default_rules(word_count={"min_words": 3}, repeated_ngrams=False)
    >>> len(rules), rules[0]("too short"), rules[0]("long enough now")
    (9, False, True)
    """
    unknown = sorted(set(settings) - set(RULE_NAMES))
    if unknown:
        raise ValueError(f"default_rules() got settings for {unknown}, which are not rules; the rules are "
                         f"{list(RULE_NAMES)}.")
    if only is None:
        names = [name for name in _DEFAULT_CHAIN if settings.get(name, True) is not False]
        names += [name for name in _OPTIONAL if settings.get(name, False) is not False]
    else:
        names = [only] if isinstance(only, str) else list(only)
        wrong = [name for name in names if name not in RULE_NAMES]
        if wrong or not names:
            raise ValueError(f"default_rules(only={only!r}): name rules among {list(RULE_NAMES)}.")
        left_out = sorted(name for name in settings if name not in names and settings[name] is not False)
        if left_out:
            raise ValueError(f"default_rules() got settings for {left_out}, which only={only!r} leaves out; add "
                             "them to only= or drop their settings.")
    rules = []
    for name in names:
        options = settings.get(name, True)
        options = {} if options is True else options
        if not isinstance(options, Mapping):
            raise ValueError(f"default_rules({name}={options!r}): give the rule's options as a dict (e.g. "
                             f"{name}={{...}}), True for its defaults or False to leave it out.")
        if name in ("stop_words", "language_id"):
            options = {"language": language, **options}
        rule_class = _rule_class(name)
        try:
            rules.append(rule_class(**options))
        except TypeError as error:
            allowed = [field.name for field in dataclasses.fields(rule_class)]
            raise ValueError(f"default_rules({name}={dict(options)!r}): {error}; the options of {name!r} are "
                             f"{allowed}.") from None
    return rules


def check_rules(rules: Iterable[QualityRule]) -> list[QualityRule]:
    """Validate a rule list: every item a :class:`QualityRule`, names unique (they label the reason column)."""
    rules = list(rules)
    if not rules:
        raise ValueError("rules is empty: pass None for the default chain or a list of QualityRule objects.")
    names = []
    for rule in rules:
        if not isinstance(rule, QualityRule):
            raise TypeError(f"rules must hold QualityRule objects (e.g. from default_rules(...), or your own "
                            f"QualityRule subclass); got {type(rule).__name__}.")
        names.append(rule.name)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"rule names must be unique, but {duplicates} appear more than once.")
    return rules


def drop_reasons(text: str | None, rules: Sequence[QualityRule] | None = None, *, all_reasons: bool = False) -> str:
    """Why one document would be dropped: the first rule it fails ("" when kept), or all, joined by ",".

    >>> drop_reasons("too short")
    'word_count'
    """
    rules = default_rules() if rules is None else rules
    doc = DocumentStats(text)  # shared by the rules, so each view of the text is computed once
    failed = []
    for rule in rules:
        if not rule.keeps(doc):
            if not all_reasons:
                return rule.name
            failed.append(rule.name)
    return ",".join(failed)


def _annotate_batch(batch: dict, indices: list[int], text_column: str, rules: list[QualityRule],
                    reason_column: str, all_reasons: bool) -> dict:
    texts = batch[text_column]
    for text, row in zip(texts, indices, strict=True):
        if text is not None and not isinstance(text, str):  # a missing text (None) is an empty document
            raise TypeError(f"annotate_quality(): row {row} of column {text_column!r} holds a {type(text).__name__}, "
                            f"not a string: {text!r:.80}. {_text_fix(type(text).__name__, text_column)}")
    return {reason_column: [drop_reasons(text, rules, all_reasons=all_reasons) for text in texts]}


def _text_fix(kind: str, text_column: str) -> str:
    if kind in ("bytes", "binary", "large_binary"):
        return (f"Decode it first: dataset.map(lambda row: {{{text_column!r}: row[{text_column!r}].decode('utf-8')}}), "
                "or pass text_column= naming the column that holds the documents as text.")
    return "Pass text_column= naming the column that holds the documents as text."


def _check_text_feature(dataset, text_column: str) -> None:
    """Refuse a text column whose declared type is not text (bytes, numbers), naming the column and the fix."""
    feature = (getattr(dataset, "features", None) or {}).get(text_column)
    if feature is None:  # an IterableDataset without declared features: each batch is checked instead
        return
    dtype = getattr(feature, "dtype", None)
    if dtype not in ("string", "large_string", "null"):  # "null": every text missing, i.e. empty documents
        kind = dtype or type(feature).__name__
        raise TypeError(f"annotate_quality(): column {text_column!r} holds {kind} values, not text "
                        f"(features: {feature}). {_text_fix(kind, text_column)}")


def _check_dataset(dataset, text_column: str, num_proc: int | None) -> None:
    if not isinstance(dataset, (Dataset, IterableDataset)):
        raise TypeError(f"expected a datasets.Dataset or IterableDataset; got {type(dataset).__name__}. "
                        "Wrap a list with Dataset.from_dict({'text': texts}).")
    columns = dataset.column_names
    if columns is not None and text_column not in columns:
        raise ValueError(f"text_column={text_column!r} is not a column of the dataset; columns: {columns}.")
    if num_proc is not None and isinstance(dataset, IterableDataset):
        raise ValueError("num_proc works with a Dataset only; an IterableDataset is processed lazily in one "
                         "process (shard it with datasets.distributed.split_dataset_by_node to parallelise).")


def annotate_quality(
    dataset: Dataset | IterableDataset,
    *,
    text_column: str = "text",
    rules: Sequence[QualityRule] | None = None,
    num_proc: int | None = None,
    batch_size: int = 1000,
    reason_column: str = REASON_COLUMN,
    all_reasons: bool = False,
) -> Dataset | IterableDataset:
    """Add a column saying why each document would be dropped ("" when it is kept).

    Parameters
    ----------
    dataset : Dataset or IterableDataset
        The corpus; nothing is removed and the input is not modified.
    text_column : str
        Column holding the documents.
    rules : list of QualityRule, optional
        The chain to apply, in order; ``None`` uses :func:`default_rules` (Gopher + C4 filters, English).
    num_proc : int, optional
        Worker processes for ``Dataset.map`` (a ``Dataset`` only).
    batch_size : int
        Documents per ``map`` batch.
    reason_column : str
        Name of the new column.
    all_reasons : bool
        ``False`` (default): the name of the first failing rule, and later rules are skipped (fastest).
        ``True``: every failing rule, joined by "," (to see what each rule would drop on its own).

    Returns
    -------
    Dataset or IterableDataset
        The same type as the input, with ``reason_column`` added.

    Raises
    ------
    TypeError
        When ``text_column`` holds bytes, numbers or anything else that is not text (a missing text, ``None``,
        is an empty document); the message names the column, the row when known, and the fix.

    Examples
    --------
    >>> from datasets import Dataset
    >>> from greennlp.filters import annotate_quality, default_rules
    >>> ds = Dataset.from_dict({"text": ["too short", "a b c d e f"]})
    >>> rules = default_rules(only=["word_count"], word_count={"min_words": 5})
    >>> list(annotate_quality(ds, rules=rules)["drop_reason"])
    ['word_count', '']
    """
    rules = default_rules() if rules is None else check_rules(rules)
    _check_dataset(dataset, text_column, num_proc)
    _check_text_feature(dataset, text_column)
    columns = dataset.column_names
    if columns is not None and reason_column in columns:
        raise ValueError(f"the dataset already has a {reason_column!r} column; remove it or pass another "
                         "reason_column=.")
    kwargs = dict(batched=True, batch_size=batch_size, with_indices=True,
                  fn_kwargs=dict(text_column=text_column, rules=rules, reason_column=reason_column,
                                 all_reasons=all_reasons))
    if isinstance(dataset, Dataset):
        kwargs.update(num_proc=num_proc, desc="quality rules")
    return dataset.map(_annotate_batch, **kwargs)


def _is_kept(reasons: list[str]) -> list[bool]:
    return [reason == "" for reason in reasons]


def clean_corpus(
    dataset: Dataset | IterableDataset,
    *,
    text_column: str = "text",
    rules: Sequence[QualityRule] | None = None,
    num_proc: int | None = None,
    batch_size: int = 1000,
    keep_reason_column: bool = False,
) -> Dataset | IterableDataset:
    """Return the documents that pass every rule (see :func:`annotate_quality` for the parameters).

    Parameters
    ----------
    dataset : Dataset or IterableDataset
        The corpus; the input is not modified (an ``IterableDataset`` is filtered lazily, as it is read).
    text_column : str
        Column holding the documents (default ``"text"``).
    rules : list of QualityRule, optional
        The chain to apply, in order; ``None`` uses :func:`default_rules` (Gopher + C4 filters, English).
    num_proc : int, optional
        Worker processes for ``Dataset.map`` and ``Dataset.filter`` (a ``Dataset`` only).
    batch_size : int
        Documents per ``map`` and ``filter`` batch (default 1000).
    keep_reason_column : bool
        ``True`` keeps the (all empty) ``drop_reason`` column; by default it is removed so the output has the
        input's columns.

    Returns
    -------
    Dataset or IterableDataset
        The same type as the input, holding only the documents no rule drops, in their input order.
    """
    annotated = annotate_quality(dataset, text_column=text_column, rules=rules, num_proc=num_proc,
                                 batch_size=batch_size)
    kwargs = dict(input_columns=REASON_COLUMN, batched=True, batch_size=batch_size)
    if isinstance(annotated, Dataset):
        kwargs.update(num_proc=num_proc, desc="keeping clean documents")
    kept = annotated.filter(_is_kept, **kwargs)
    return kept if keep_reason_column else kept.remove_columns(REASON_COLUMN)


def drop_summary(annotated: Dataset | IterableDataset | pd.Series | Sequence[str], *,
                 reason_column: str = REASON_COLUMN) -> pd.DataFrame:
    """Count the documents each rule dropped, from the output of :func:`annotate_quality`.

    Returns a DataFrame indexed by rule name (in order of frequency) with columns ``documents`` and ``share``
    (of all documents), plus a ``kept`` row. With ``all_reasons=True`` annotations a document counts once
    for every rule it fails, so the rule rows can add up to more than the dropped total.

    Parameters
    ----------
    annotated : Dataset, IterableDataset, pandas.Series or sequence of str
        A dataset returned by :func:`annotate_quality` (its ``reason_column`` is read), or the drop reasons
        themselves, one string per document ("" for a kept document, rule names joined by "," otherwise).
    reason_column : str
        The column of ``annotated`` holding the reasons, when it is a dataset (default ``"drop_reason"``).
    """
    if isinstance(annotated, (Dataset, IterableDataset)):
        columns = annotated.column_names
        if columns is not None and reason_column not in columns:
            raise ValueError(f"no {reason_column!r} column: run annotate_quality(dataset) first.")
        reasons = list(annotated[reason_column]) if isinstance(annotated, Dataset) else \
            [row[reason_column] for row in annotated]
    else:
        reasons = list(annotated)
    total = len(reasons)
    counts = Counter(name for reason in reasons if reason for name in reason.split(","))
    rows = dict(counts.most_common())
    rows["kept"] = sum(1 for reason in reasons if not reason)
    table = pd.DataFrame({"documents": pd.Series(rows, dtype="int64")})
    table.index.name = "rule"
    table["share"] = table["documents"] / total if total else 0.0
    return table
