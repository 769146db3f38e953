"""Tiny tokenizers of the three families (WordPiece, byte-level BPE, Unigram) and sentences to tag, built offline."""
from __future__ import annotations

import random

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

CONTENT = ("tiger carrot eating river mountain quickly green ancient build 1990 42 orchestra "
           "photosynthesis extraordinary hippopotamus zebra violin paint").split()
FUNCTION = "the a is of and it they was to in on with very but or".split()
PUNCTUATION = list(",.!?;:-%")


def sentences(n: int, seed: int = 0, content_share: float = 0.4) -> list[str]:
    """Sentences of stop words, punctuation and content words (each has at least one content word)."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        words = [rng.choice(CONTENT)]
        for _ in range(rng.randint(2, 14)):
            words.append(rng.choice(CONTENT) if rng.random() < content_share else rng.choice(FUNCTION))
            if rng.random() < 0.15:
                words[-1] += rng.choice(PUNCTUATION)
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts


def _wrap(tokenizer: Tokenizer, **special) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=512, **special)


def wordpiece(corpus: list[str]) -> PreTrainedTokenizerFast:
    from greennlp.encoders import train_wordpiece_tokenizer

    return train_wordpiece_tokenizer(corpus, vocab_size=120)


def byte_level_bpe(corpus: list[str]) -> PreTrainedTokenizerFast:
    specials = ["<pad>", "<s>", "</s>", "<unk>", "<mask>"]
    tokenizer = Tokenizer(models.BPE())
    # add_prefix_space + untrimmed offsets: tokens like "Ġtiger" whose offsets include the leading space.
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])
    return _wrap(tokenizer, pad_token="<pad>", bos_token="<s>", eos_token="</s>", cls_token="<s>",
                 sep_token="</s>", unk_token="<unk>", mask_token="<mask>")


def unigram(corpus: list[str]) -> PreTrainedTokenizerFast:
    specials = ["<pad>", "<unk>", "<s>", "</s>", "<mask>"]
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(corpus, trainers.UnigramTrainer(
        vocab_size=80, special_tokens=specials, unk_token="<unk>"))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 2), ("</s>", 3)])
    return _wrap(tokenizer, pad_token="<pad>", bos_token="<s>", eos_token="</s>", cls_token="<s>",
                 sep_token="</s>", unk_token="<unk>", mask_token="<mask>")


FAMILIES = {"wordpiece": wordpiece, "byte-level-bpe": byte_level_bpe, "unigram": unigram}


@pytest.fixture(scope="session")
def make_sentences():
    """The sentence generator, for tests that need their own seeds."""
    return sentences


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return sentences(300, seed=1)


@pytest.fixture(scope="session", params=sorted(FAMILIES))
def family_tokenizer(request, corpus) -> PreTrainedTokenizerFast:
    return FAMILIES[request.param](corpus)


@pytest.fixture(scope="session")
def wordpiece_tokenizer(corpus) -> PreTrainedTokenizerFast:
    return wordpiece(corpus)


@pytest.fixture(scope="session")
def lexical_tagger():
    """The spacy.blank('en') lexical strategy: any installed model is irrelevant to the tests."""
    import spacy

    from greennlp.masking import ContentWordTagger

    return ContentWordTagger(spacy.blank("en")).load()
