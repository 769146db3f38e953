"""Tiny random-init checkpoints saved to disk (so that ``Method(path)`` loads them offline) and tiny data."""
from __future__ import annotations

import pytest
from datasets import Dataset
from transformers import BertConfig, BertForMaskedLM

from synthetic import synthetic_sentiment


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
