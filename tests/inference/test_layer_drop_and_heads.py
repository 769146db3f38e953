"""layer_drop (LayerDrop training), head_importance and prune_heads on miniature BERTs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from datasets import Dataset
from devices import to_device
from synthetic import synthetic_sentiment
from transformers import BertConfig, BertForSequenceClassification

from greennlp.budgets.flops import flop_counter
from greennlp.encoders import fine_tune, load_encoder
from greennlp.encoders.data import PaddingCollator
from greennlp.inference import head_importance, keep_layers, layer_drop, prune_heads
from greennlp.inference.flops import early_exit_flops


def _batch(tokenizer, dataset, n=8, device="cpu"):
    batch = to_device(PaddingCollator(tokenizer)([dataset[i] for i in range(n)]), device)
    return batch, batch.pop("labels")


def _record_skips(model):
    """Forward hooks noting, per call of each encoder layer, whether it returned its input unchanged."""
    calls = []
    for index, layer in enumerate(model.bert.encoder.layer):
        layer.register_forward_hook(lambda module, args, output, i=index: calls.append((i, output is args[0])))
    return calls


def _four_heads(tokenizer, seed=0):
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, pad_token_id=tokenizer.pad_token_id, num_labels=2)
    return BertForSequenceClassification(config).eval()


# --- LayerDrop -------------------------------------------------------------------------------------------------
def test_layer_drop_skips_layers_in_training_only_and_leaves_eval_untouched(tiny_tokenizer, tokenized, device):
    model = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0).to(device).eval()
    dropped = layer_drop(model, probability=0.5)
    assert "forward" not in vars(model.bert.encoder.layer[0])  # the original is left alone
    batch, _ = _batch(tiny_tokenizer, tokenized[1], device=device)
    calls = _record_skips(dropped)
    with torch.no_grad():
        torch.testing.assert_close(dropped.eval()(**batch).logits, model(**batch).logits, rtol=0, atol=0)
        assert calls and not any(skipped for _, skipped in calls)
        calls.clear()
        dropped.train()
        for _ in range(40):
            dropped(**batch)
    skipped = sum(skipped for _, skipped in calls)
    assert len(calls) == 80 and 20 <= skipped <= 60  # each of 2 layers, 40 batches, p = 0.5
    assert {i for i, s in calls if s} == {0, 1}
    plain = layer_drop(dropped, probability=0)
    assert "forward" not in vars(plain.bert.encoder.layer[0])
    with pytest.raises(ValueError, match="probability"):
        layer_drop(model, probability=1.0)
    with pytest.raises(ValueError, match="BERT"):
        layer_drop(torch.nn.Linear(2, 2))


def test_layer_drop_training_through_fine_tune_is_reproducible_with_a_seed(tiny_tokenizer, device):
    train = Dataset.from_dict(synthetic_sentiment(96, seed=2))

    def trained(probability, seed):
        model = layer_drop(load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0), probability=probability)
        calls = _record_skips(model)
        fine_tune(model, tiny_tokenizer, train, epochs=1, batch_size=16, learning_rate=2e-3, seed=seed, bf16=False,
                  max_length=32, use_cpu=device == "cpu")
        return torch.cat([p.detach().cpu().flatten() for p in model.parameters()]), [s for _, s in calls]

    weights, skips = trained(0.5, seed=0)
    again, skips_again = trained(0.5, seed=0)
    assert skips == skips_again and any(skips) and not all(skips)
    # bit for bit on the CPU; a GPU's backward passes (attention, embeddings) may add up in another order
    torch.testing.assert_close(weights, again, rtol=0, atol=0 if device == "cpu" else 1e-4)
    other, other_skips = trained(0.5, seed=1)
    assert other_skips != skips
    without, no_skips = trained(0.0, seed=0)
    assert not any(no_skips) and not torch.equal(weights, without)


def test_keep_layers_of_a_layer_drop_model_runs_its_own_copy_of_the_kept_layers(tiny_tokenizer, tokenized, device):
    model = layer_drop(load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0), probability=0.5)
    model = model.to(device).eval()
    half = keep_layers(model, [1]).eval()
    layer = half.bert.encoder.layer[0]
    assert layer.forward.__self__ is layer  # rebound to the copy by deepcopy, not to the original's layer
    batch, _ = _batch(tiny_tokenizer, tokenized[1], device=device)
    with torch.no_grad():
        before = half(**batch).logits
        for parameter in model.parameters():
            parameter.add_(1.0)
        torch.testing.assert_close(half(**batch).logits, before, rtol=0, atol=0)


# --- heads ---------------------------------------------------------------------------------------------------
def test_head_importance_is_the_mean_absolute_gradient_of_each_example(tiny_tokenizer, tokenized, device):
    model = _four_heads(tiny_tokenizer).to(device)
    data = tokenized[0].select(range(24))
    raw = head_importance(model, data, batch_size=8, normalize=False)
    assert raw.shape == (2, 4) and (raw >= 0).all() and raw.sum() > 0
    np.testing.assert_allclose(head_importance(model, data, batch_size=1, normalize=False), raw, rtol=1e-4)
    assert all(p.grad is None for p in model.parameters()) and not model.training
    normalized = head_importance(model, data, batch_size=8)
    np.testing.assert_allclose(np.linalg.norm(normalized, axis=1), 1.0, rtol=1e-6)

    # one example: |dL/dgate| against a central difference of the loss in the gate of layer 1, head 2 (float64)
    model = model.double()
    example = data.select([0])
    batch, labels = _batch(tiny_tokenizer, example, n=1, device=device)

    def loss_with_gate(value):
        def hook(module, args):
            scaled = args[0].clone()
            scaled[..., 2 * 16:3 * 16] *= value
            return (scaled,)

        handle = model.bert.encoder.layer[1].attention.output.dense.register_forward_pre_hook(hook)
        with torch.no_grad():
            loss = torch.nn.functional.cross_entropy(model(**batch).logits.double(), labels)
        handle.remove()
        return float(loss)

    difference = abs(loss_with_gate(1.001) - loss_with_gate(0.999)) / 0.002
    single = head_importance(model, example, normalize=False)
    assert single[1, 2] == pytest.approx(difference, rel=1e-5)


def test_prune_heads_removes_the_least_important_heads_as_a_smaller_copy(tiny_tokenizer, tokenized, device):
    model = _four_heads(tiny_tokenizer).to(device)
    importance = np.array([[0.5, 0.1, 0.9, 0.3], [0.2, 0.8, 0.05, 0.7]])
    pruned = prune_heads(model, importance, share=0.5)
    assert pruned.config.pruned_heads == {0: [1, 3], 1: [0, 2]}
    assert getattr(model.config, "pruned_heads", None) is None and model.bert.encoder.layer[0].attention.self.query.out_features == 64
    attention = pruned.bert.encoder.layer[0].attention
    assert attention.self.num_attention_heads == 2 and attention.self.query.weight.shape == (32, 64)
    assert attention.output.dense.weight.shape == (64, 32)
    per_head = 3 * (64 * 16 + 16) + 16 * 64  # query, key, value rows and output columns of one head
    assert model.num_parameters() - pruned.num_parameters() == 4 * per_head

    # the pruned copy computes what the original computes with those heads' outputs set to zero
    batch, _ = _batch(tiny_tokenizer, tokenized[1], device=device)

    def zero(heads):
        def hook(module, args):
            masked = args[0].clone()
            for head in heads:
                masked[..., head * 16:(head + 1) * 16] = 0
            return (masked,)

        return hook

    handles = [model.bert.encoder.layer[layer].attention.output.dense.register_forward_pre_hook(zero(heads))
               for layer, heads in pruned.config.pruned_heads.items()]
    with torch.no_grad():
        masked = model(**batch).logits
        for handle in handles:
            handle.remove()
        torch.testing.assert_close(pruned(**batch).logits, masked, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(prune_heads(model, importance, share=0)(**batch).logits, model(**batch).logits)

    # every layer keeps a head, however unimportant its heads are
    lopsided = prune_heads(model, np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]), share=0.5)
    assert lopsided.config.pruned_heads == {0: [0, 1, 2], 1: [0]}
    student = keep_layers(pruned, [1])
    assert student.config.pruned_heads == {0: [0, 2]}
    with pytest.raises(ValueError, match="shape"):
        prune_heads(model, importance[:1], share=0.5)
    with pytest.raises(ValueError, match="share"):
        prune_heads(model, importance, share=1.0)
    with pytest.raises(ValueError, match="unpruned"):
        prune_heads(pruned, importance, share=0.25)
    with pytest.raises(ValueError, match="unpruned"):
        head_importance(pruned, tokenized[0].select(range(4)))


def test_flops_of_a_head_pruned_model_equal_the_flop_counter(tiny_tokenizer, tokenized, device):
    model = _four_heads(tiny_tokenizer).to(device)
    pruned = prune_heads(model, np.array([[0.5, 0.1, 0.9, 0.3], [0.2, 0.8, 0.05, 0.7]]), share=0.25)
    example = tokenized[1][0]
    batch = to_device(PaddingCollator(tiny_tokenizer)([example]), device)
    batch.pop("labels")
    n = len(example["input_ids"])
    for candidate in (model, pruned, keep_layers(pruned, [0])):
        with torch.no_grad(), flop_counter() as counter:
            candidate(**batch)
        layers = candidate.config.num_hidden_layers
        assert counter.get_total_flops() == early_exit_flops(candidate.config, n, layers)
    assert early_exit_flops(pruned.config, n, 2) < early_exit_flops(model.config, n, 2)


def test_head_importance_names_labels_out_of_range(tiny_tokenizer, tokenized):
    model = _four_heads(tiny_tokenizer)
    bad = tokenized[0].select(range(8)).map(lambda row, i: {"labels": 7 if i == 2 else row["labels"]},
                                            with_indices=True)
    with pytest.raises(ValueError, match=r"'labels' holds 7.*num_labels=2"):
        head_importance(model, bad)
    with pytest.raises(ValueError, match=r"every label in 'labels' is -100"):
        head_importance(model, bad.map(lambda row: {"labels": -100}))
    assert all(p.grad is None for p in model.parameters()) and not model._forward_pre_hooks
