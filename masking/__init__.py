"""Content-word masking for masked-LM pretraining: spaCy tagger -> subword alignment -> MLM collator.

Random MLM masking spends much of its budget on stop words and punctuation; these tools mask content
words instead, with random and whole-word masking as baselines that read the same tagged dataset.
"""
from .alignment import (
    CONTENT_MASK_COLUMN,
    WORD_IDS_COLUMN,
    add_content_word_mask,
    align_batch,
    align_words_to_tokens,
)
from .collator import (
    BUDGETS,
    MASKING_STRATEGIES,
    DataCollatorForBaselineMasking,
    DataCollatorForContentMasking,
    mlm_collator,
)
from .tagger import DEFAULT_CONTENT_POS, FUNCTION_POS, ContentWordTagger

__all__ = [
    "BUDGETS",
    "CONTENT_MASK_COLUMN",
    "DEFAULT_CONTENT_POS",
    "FUNCTION_POS",
    "MASKING_STRATEGIES",
    "WORD_IDS_COLUMN",
    "ContentWordTagger",
    "DataCollatorForBaselineMasking",
    "DataCollatorForContentMasking",
    "add_content_word_mask",
    "align_batch",
    "align_words_to_tokens",
    "mlm_collator",
]
