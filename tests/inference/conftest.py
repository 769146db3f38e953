"""Tiny tokenized data and a trained tiny early-exit model, shared by the inference tests."""
from __future__ import annotations

import pytest
from datasets import Dataset
from synthetic import synthetic_sentiment


@pytest.fixture(scope="session")
def tokenized(tiny_tokenizer):
    from greennlp.encoders import tokenize_dataset

    data = Dataset.from_dict(synthetic_sentiment(320, seed=1))
    splits = tokenize_dataset(data, tiny_tokenizer, max_length=32).train_test_split(test_size=0.25, seed=0)
    return splits["train"], splits["test"]


def make_train_args(tmp_path, **overrides):
    from greennlp.encoders import efficient_training_args

    settings = dict(num_train_epochs=2, per_device_train_batch_size=16, learning_rate=2e-3, seed=0,
                    logging_strategy="no", disable_tqdm=True, train_sampling_strategy="random", bf16=False)
    settings.update(overrides)
    return efficient_training_args(str(tmp_path), **settings)


@pytest.fixture(scope="session")
def train_args():
    """``train_args(folder, **overrides)``: TrainingArguments for a few seconds of CPU training."""
    return make_train_args


@pytest.fixture(scope="session")
def trained_early_exit(tiny_tokenizer, tokenized, tmp_path_factory):
    """An EarlyExitClassifier on BERT-tiny (2 layers) trained for a few seconds through a plain Trainer on the CPU,
    calibrated."""
    from transformers import Trainer

    from greennlp.encoders.data import PaddingCollator
    from greennlp.inference import EarlyExitClassifier

    train, dev = tokenized
    model = EarlyExitClassifier.from_pretrained("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0)
    Trainer(model=model, args=make_train_args(tmp_path_factory.mktemp("early-exit"), use_cpu=True),
            train_dataset=train, data_collator=PaddingCollator(tiny_tokenizer)).train()
    return model.calibrate(dev)


@pytest.fixture
def early_exit(trained_early_exit, device):
    """The trained early-exit model on ``device``: itself on the CPU, a copy elsewhere."""
    import copy

    return trained_early_exit if device == "cpu" else copy.deepcopy(trained_early_exit).to(device)
