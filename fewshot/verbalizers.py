"""Templates and label words for prompting: slot checking, and how a label word tokenizes where it will appear.

Byte-level BPE tokenizers (GPT-2, RoBERTa) give a word another token when a space precedes it (``" great"`` is
``Ġgreat``), so a label word is tokenized with a leading space exactly when the template puts one before its slot.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from transformers import PreTrainedTokenizerBase

_SLOT = re.compile(r"(\{[a-z_]+\})")


def split_template(template: str, required: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """Split ``template`` into literal pieces and slots (``"{text}"``, ``"{mask}"``, ...), checking the slots.

    Every slot in ``required`` must appear exactly once and no slot outside ``allowed`` may appear.
    """
    if not isinstance(template, str):
        raise TypeError(f"A template must be a string, got {type(template).__name__}.")
    pieces = [piece for piece in _SLOT.split(template) if piece]
    slots = [piece for piece in pieces if _SLOT.fullmatch(piece)]
    for slot in required:
        if slots.count(slot) != 1:
            found = "no" if slot not in slots else f"{slots.count(slot)}"
            raise ValueError(
                f"Template {template!r} has {found} {slot} slot(s); it needs exactly one, e.g. "
                f"{_example(required)!r}."
            )
    unknown = sorted(set(slots) - set(allowed))
    if unknown:
        raise ValueError(f"Template {template!r} has unknown slot(s) {unknown}; allowed: {list(allowed)}.")
    return pieces


def _example(required: Sequence[str]) -> str:
    if "{mask}" in required:
        return "{text} It was {mask}."
    return "Review: {text}\nSentiment: {label}"


def space_before(pieces: list[str], slot: str) -> bool:
    """True when the literal text just before ``slot`` ends in whitespace (or the slot follows another slot)."""
    index = pieces.index(slot)
    return index > 0 and (pieces[index - 1][-1:].isspace() or pieces[index - 1].startswith("{"))


def normalize_verbalizer(verbalizer: Mapping[int, str | Sequence[str]] | None) -> dict[int, list[str]]:
    """``{label: "word"}`` or ``{label: ["word", ...]}`` -> ``{label: [words]}``, sorted by label, checked."""
    if not verbalizer:
        raise ValueError(
            "A verbalizer is required: map every label to one or more label words, e.g. "
            "{0: ['terrible'], 1: ['great']}."
        )
    if not isinstance(verbalizer, Mapping):
        raise TypeError(f"verbalizer must be a mapping label -> word(s), got {type(verbalizer).__name__}.")
    result = {}
    for label in sorted(verbalizer):
        words = [verbalizer[label]] if isinstance(verbalizer[label], str) else list(verbalizer[label])
        if not words or not all(isinstance(word, str) and word.strip() for word in words):
            raise ValueError(f"Label {label!r} needs at least one non-empty label word, got {verbalizer[label]!r}.")
        result[int(label)] = [word.strip() for word in words]
    if len(result) < 2:
        raise ValueError(f"A verbalizer needs at least two labels, got {list(result)}.")
    return result


def label_word_ids(tokenizer: PreTrainedTokenizerBase, word: str, leading_space: bool) -> list[int]:
    """Token ids of ``word`` as it appears in context: after a space when ``leading_space`` is true."""
    text = " " + word if leading_space else word
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def single_token_id(tokenizer: PreTrainedTokenizerBase, word: str, label: int, leading_space: bool) -> int:
    """The one token id of a label word at a mask slot, or a ``ValueError`` that says how it splits and what to do."""
    ids = label_word_ids(tokenizer, word, leading_space)
    if len(ids) == 1:
        return ids[0]
    where = "after a space" if leading_space else "with no space before it"
    message = (
        f"Label word {word!r} (label {label}) is not a single token {where}, as the template places it: "
        f"it tokenizes to {tokenizer.convert_ids_to_tokens(ids)}. A masked LM predicts one token per mask slot; "
        "choose a label word that is one token for this tokenizer"
    )
    other = label_word_ids(tokenizer, word, not leading_space)
    if len(other) == 1:
        fix = "remove the space before {mask}" if leading_space else "put a space before {mask}"
        message += f", or {fix} in the template (it is one token {'without' if leading_space else 'with'} a space)"
    raise ValueError(message + ".")
