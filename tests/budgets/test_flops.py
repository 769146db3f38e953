import pytest
import torch

from greennlp.budgets.flops import training_step_flops
from greennlp.encoders import load_encoder


@pytest.mark.parametrize("batch,length", [(4, 16), (2, 33)])
def test_training_step_flops_match_analytic_count(tiny_tokenizer, analytic_flops, batch, length, device):
    model = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0).to(device)
    inputs = {
        "input_ids": torch.randint(5, len(tiny_tokenizer), (batch, length), device=device),
        "attention_mask": torch.ones(batch, length, dtype=torch.long, device=device),
        "labels": torch.zeros(batch, dtype=torch.long, device=device),
    }
    measured = training_step_flops(model, inputs)
    # backward costs twice the forward (gradients w.r.t. inputs and weights); stated tolerance: 1%
    expected = 3 * analytic_flops(model.config, batch, length)
    assert measured == pytest.approx(expected, rel=0.01)
    assert all(p.grad is None for p in model.parameters())


def test_attention_is_counted_on_cpu():
    from greennlp.budgets.flops import flop_counter

    q = torch.randn(1, 2, 8, 16)
    with flop_counter() as counter:
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert counter.get_total_flops() == 2 * 2 * 8 * 8 * 32


def test_importing_and_using_budgets_changes_nothing_in_torchs_flop_registry():
    """Importing a module changes nothing global: the CPU attention formula goes to greennlp's counters only."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import torch
        from torch.utils.flop_counter import FlopCounterMode, flop_registry
        before = dict(flop_registry)
        import greennlp.budgets
        from greennlp.budgets import BudgetCallback
        from greennlp.budgets.flops import flop_counter
        from greennlp.budgets import callback, flops
        assert dict(flop_registry) == before, "importing greennlp.budgets changed torch's FLOP registry"
        q = torch.randn(1, 2, 8, 16)
        with flop_counter() as counter:
            torch.nn.functional.scaled_dot_product_attention(q, q, q)
        assert counter.get_total_flops() == 2 * 2 * 8 * 8 * 32, counter.get_total_flops()
        assert dict(flop_registry) == before, "using flop_counter() changed torch's FLOP registry"
        with FlopCounterMode(display=False) as plain:  # torch's own counter is as torch made it
            torch.nn.functional.scaled_dot_product_attention(q, q, q)
        print("ok", plain.get_total_flops())
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")
