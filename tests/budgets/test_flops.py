import pytest
import torch

from greennlp.budgets.flops import training_step_flops
from greennlp.encoders import load_encoder


@pytest.mark.parametrize("batch,length", [(4, 16), (2, 33)])
def test_training_step_flops_match_analytic_count(tiny_tokenizer, analytic_flops, batch, length):
    model = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0)
    inputs = {
        "input_ids": torch.randint(5, len(tiny_tokenizer), (batch, length)),
        "attention_mask": torch.ones(batch, length, dtype=torch.long),
        "labels": torch.zeros(batch, dtype=torch.long),
    }
    measured = training_step_flops(model, inputs)
    # backward costs twice the forward (gradients w.r.t. inputs and weights); stated tolerance: 1%
    expected = 3 * analytic_flops(model.config, batch, length)
    assert measured == pytest.approx(expected, rel=0.01)
    assert all(p.grad is None for p in model.parameters())


def test_attention_is_counted_on_cpu():
    from greennlp.budgets import flop_counter

    q = torch.randn(1, 2, 8, 16)
    with flop_counter() as counter:
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert counter.get_total_flops() == 2 * 2 * 8 * 8 * 32
