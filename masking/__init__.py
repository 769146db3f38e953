"""Content-word masking for masked-LM pretraining: spaCy tagger -> subword alignment -> MLM collator.

Random MLM masking spends much of its budget on stop words and punctuation; these tools mask content
words instead; the same collator's ``strategy="random"`` and ``"whole-word"`` are the baselines, reading the same
tagged dataset."""
from __future__ import annotations

from typing import TYPE_CHECKING

from greennlp._lazy import attach

_EXPORTS = {
    "ContentWordTagger": ".tagger",
    "DataCollatorForContentMasking": ".collator",
    "add_content_word_mask": ".alignment",
}
__all__ = [
    "ContentWordTagger",
    "DataCollatorForContentMasking",
    "add_content_word_mask",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .alignment import add_content_word_mask
    from .collator import DataCollatorForContentMasking
    from .tagger import ContentWordTagger
