"""The analytic FLOP counts agree with torch's FLOP counter."""
from __future__ import annotations

import torch

from greennlp.budgets import flop_counter
from greennlp.encoders import PaddingCollator
from greennlp.inference import EarlyExitClassifier, early_exit_flops


def test_counts_equal_the_flop_counter(tiny_tokenizer, tokenized):
    model = EarlyExitClassifier.from_pretrained("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0).eval()
    example = tokenized[1][0]
    batch = PaddingCollator(tiny_tokenizer.pad_token_id)([example])
    batch.pop("labels")
    with torch.no_grad(), flop_counter() as counter:
        model(**batch)
    assert counter.get_total_flops() == early_exit_flops(model.config, len(example["input_ids"]), 2)
    assert early_exit_flops(model.config, 10, 1) < early_exit_flops(model.config, 10, 2) / 1.9
