"""Train a WordPiece tokenizer on the fly, for models built from a config (no hub needed)."""
from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece_tokenizer(
    texts: Iterable[str], vocab_size: int = 8000, lowercase: bool = True, model_max_length: int = 512
) -> PreTrainedTokenizerFast:
    """Train a BERT-style WordPiece tokenizer on ``texts`` and wrap it as a fast HF tokenizer.

    The result behaves like ``bert-base-uncased``'s tokenizer ([CLS] ... [SEP], offsets, padding) so that
    collators and ``Trainer`` work unchanged.

    Parameters
    ----------
    texts : iterable of str
        The training corpus, read once.
    vocab_size : int
        Largest size of the vocabulary, the five special tokens included (default 8000); a small corpus can
        give fewer tokens.
    lowercase : bool
        Lowercase the texts and strip their accents, as ``bert-base-uncased`` does (default ``True``).
    model_max_length : int
        The longest input in tokens that the tokenizer allows, what ``truncation=True`` cuts to when no
        ``max_length`` is given (default 512).

    Examples
    --------
    >>> tokenizer = train_wordpiece_tokenizer(["a good film", "a bad film"] * 10, vocab_size=100)
    >>> tokenizer.tokenize("A good film")
    ['a', 'good', 'film']
    >>> tokenizer.decode(tokenizer("a bad film")["input_ids"])
    '[CLS] a bad film [SEP]'
    """
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
    )
