"""Content-word masking for masked-LM pretraining: spaCy tagger -> subword alignment -> MLM collator.

Random MLM masking spends much of its budget on stop words and punctuation; these tools mask content
words instead, with random and whole-word masking as baselines that read the same tagged dataset."""
from __future__ import annotations

from typing import TYPE_CHECKING

from greennlp._lazy import attach

_EXPORTS = {
    "ContentWordTagger": ".tagger",
    "DataCollatorForBaselineMasking": ".collator",
    "DataCollatorForContentMasking": ".collator",
    "add_content_word_mask": ".alignment",
    "mlm_collator": ".collator",
}
__all__ = [
    "ContentWordTagger",
    "DataCollatorForBaselineMasking",
    "DataCollatorForContentMasking",
    "add_content_word_mask",
    "mlm_collator",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .alignment import add_content_word_mask
    from .collator import DataCollatorForBaselineMasking, DataCollatorForContentMasking, mlm_collator
    from .tagger import ContentWordTagger
