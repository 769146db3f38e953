"""Tiny random-init checkpoints saved to disk (so that ``Method(path)`` loads them offline) and tiny data."""
from __future__ import annotations

import pytest
from datasets import Dataset
from synthetic import synthetic_sentiment
from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast


def save_tiny_bert(folder, tokenizer) -> str:
    """A 2-layer, 32-wide BERT with a masked-LM head and ``tokenizer`` saved in ``folder``."""
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id,
    )
    BertForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_bert_path(tmp_path_factory, tiny_tokenizer) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), tiny_tokenizer)


@pytest.fixture(scope="session")
def tiny_train() -> Dataset:
    return Dataset.from_dict(synthetic_sentiment(24, seed=1))


@pytest.fixture(scope="session")
def tiny_test() -> Dataset:
    return Dataset.from_dict(synthetic_sentiment(20, seed=2))


def byte_level_tokenizer(texts: list[str], special: dict[str, str]) -> PreTrainedTokenizerFast:
    """A GPT-2/RoBERTa-style byte-level BPE tokenizer trained on ``texts`` (" great" and "great" differ)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=list(dict.fromkeys(special.values())),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **special)


@pytest.fixture(scope="session")
def sentiment_texts() -> list[str]:
    # "great"/"awful" only ever follow a space, so the BPE learns "Ġgreat" but not a bare "great"
    data = synthetic_sentiment(300, seed=3)
    return [f"{text} It was {'great' if label else 'awful'}." for text, label in zip(data["text"], data["label"], strict=True)]


@pytest.fixture(scope="session")
def tiny_roberta_path(tmp_path_factory, sentiment_texts) -> str:
    from transformers import RobertaConfig, RobertaForMaskedLM

    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}
    tokenizer = byte_level_tokenizer(sentiment_texts, special)
    config = RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=130, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-roberta")
    RobertaForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_gpt2_path(tmp_path_factory, sentiment_texts) -> str:
    """A 2-layer GPT-2 with a context of only 64 tokens, so that prompts overflow on purpose."""
    from transformers import GPT2Config, GPT2LMHeadModel

    special = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    tokenizer = byte_level_tokenizer(sentiment_texts + ["Input: Label: positive negative"] * 5, special)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2)
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
