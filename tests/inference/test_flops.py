"""The analytic FLOP counts agree with torch's FLOP counter."""
from __future__ import annotations

import torch
from devices import to_device

from greennlp.budgets.flops import flop_counter
from greennlp.encoders.data import PaddingCollator
from greennlp.inference import EarlyExitClassifier
from greennlp.inference.flops import early_exit_flops


def test_counts_equal_the_flop_counter(tiny_tokenizer, tokenized, device):
    model = EarlyExitClassifier.from_pretrained("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0).to(device)
    model.eval()
    example = tokenized[1][0]
    batch = to_device(PaddingCollator(tiny_tokenizer)([example]), device)
    batch.pop("labels")
    with torch.no_grad(), flop_counter() as counter:
        model(**batch)
    assert counter.get_total_flops() == early_exit_flops(model.config, len(example["input_ids"]), 2)
    assert early_exit_flops(model.config, 10, 1) < early_exit_flops(model.config, 10, 2) / 1.9
