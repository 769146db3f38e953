"""Attention-head pruning by importance (Michel et al. 2019, "Are Sixteen Heads Really Better than One?"): score
each head by how much the loss depends on it over labelled data, then remove the least important share."""
from __future__ import annotations

import copy

import numpy as np
import torch
from datasets import Dataset
from torch import nn
from transformers import PreTrainedModel
from transformers.pytorch_utils import prune_linear_layer

from ._checks import UNLABELLED, class_ids
from .early_exit import _tokenized_batches
from .pruning import _encoder_layers

# transformers 5 removed `head_mask` and `PreTrainedModel.prune_heads` (huggingface/transformers#41076), so heads
# are masked here by a hook on the attention's output projection and removed with `prune_linear_layer`.


def head_importance(
    model: PreTrainedModel,
    dataset: Dataset,
    *,
    batch_size: int = 32,
    label_column: str = "labels",
    normalize: bool = True,
) -> np.ndarray:
    """Importance of every attention head, ``(layers, heads)``: the mean over examples of ``|dL/dm_h|``, the
    gradient of the example's cross-entropy with respect to a gate ``m_h = 1`` on the head's output (Michel et
    al. 2019, their ``head_mask``). A head whose removal barely changes the loss scores near 0.

    Gates are per example, so each example's gradient is taken before its absolute value (not the batch's sum);
    the model runs in eval mode (no dropout) and is left unchanged (no ``.grad`` is written).

    Parameters
    ----------
    model:
        A fine-tuned BERT-architecture classifier whose heads have not been pruned yet.
    dataset:
        Tokenized labelled data (``input_ids`` and ``label_column``, e.g. from ``encoders.tokenize_dataset``):
        a sample of the training data, not the data the pruned model is evaluated on.
    batch_size:
        Examples per batch (length-sorted).
    label_column:
        Column holding the class ids (``ValueError`` when it is missing, the data is empty or unlabelled, or a
        label is not a class id of the model; rows labelled -100 are left out).
    normalize:
        Divide each layer's scores by their l2 norm, as Michel et al. do before comparing heads across layers
        (layers whose gradients are larger would otherwise keep all their heads).

    Examples
    --------
    >>> importance = head_importance(model, tokenized_train.select(range(1000)))  # doctest: +SKIP
    >>> smaller = prune_heads(model, importance, share=0.25)  # doctest: +SKIP

    One score per head of BERT-tiny (2 layers of 2 heads) built from a config, on 8 tokenized rows:

    >>> from greennlp.encoders import load_encoder, tokenize_dataset, train_wordpiece_tokenizer
    >>> data = Dataset.from_dict({"text": ["a good film", "a bad film", "a great plot", "a dull plot"] * 2,
    ...                           "label": [1, 0, 1, 0] * 2})
    >>> tokenizer = train_wordpiece_tokenizer(data["text"], vocab_size=100)
    >>> model = load_encoder("tiny", tokenizer=tokenizer, seed=0)
    >>> head_importance(model, tokenize_dataset(data, tokenizer)).shape       # (layers, heads)
    (2, 2)
    """
    layers = _encoder_layers(model, "head_importance")
    attentions = [layer.attention.self for layer in layers]
    heads = {attention.num_attention_heads for attention in attentions}
    if getattr(model.config, "pruned_heads", None) or heads != {model.config.num_attention_heads}:
        raise ValueError("head_importance() scores the heads of an unpruned model; compute it before prune_heads().")
    gold = class_ids(dataset, label_column, model.config.num_labels, caller="head_importance()", unlabelled="ignore")
    num_heads = model.config.num_attention_heads
    device = next(model.parameters()).device
    gates: list[torch.Tensor] = []

    def gate(index: int, head_size: int):
        def hook(module: nn.Module, args: tuple) -> tuple:
            (context, *rest) = args  # (batch, tokens, heads * head_size): the heads' outputs side by side
            mask = gates[index].repeat_interleave(head_size, dim=-1)[:, None, :]
            return (context * mask.to(context.dtype), *rest)

        return hook

    hooks = [layer.attention.output.dense.register_forward_pre_hook(gate(i, attention.attention_head_size))
             for i, (layer, attention) in enumerate(zip(layers, attentions, strict=True))]
    was_training = model.training
    model.eval()
    totals = torch.zeros(len(layers), num_heads, dtype=torch.float64)
    try:
        inputs = [c for c in ("input_ids", "token_type_ids") if c in dataset.column_names]
        data = dataset.select_columns([*inputs, label_column])
        if label_column != "labels":
            data = data.rename_column(label_column, "labels")
        for _, batch in _tokenized_batches(data, batch_size, pad_token_id=model.config.pad_token_id or 0,
                                           device=device, columns=(*inputs, "labels")):
            labels = batch.pop("labels")
            gates[:] = [torch.ones(len(labels), num_heads, device=device, requires_grad=True) for _ in layers]
            logits = model(**batch).logits
            loss = nn.functional.cross_entropy(logits.float(), labels.view(-1), reduction="sum")
            gradients = torch.autograd.grad(loss, gates)
            totals += torch.stack([g.detach().abs().sum(dim=0) for g in gradients]).double().cpu()
    finally:
        for hook in hooks:
            hook.remove()
        gates.clear()
        model.train(was_training)
    importance = totals / int((gold != UNLABELLED).sum())  # unlabelled rows add no gradient
    if normalize:
        importance = importance / importance.norm(dim=1, keepdim=True).clamp_min(1e-20)
    return importance.numpy()


def prune_heads(model: PreTrainedModel, importance: np.ndarray, *, share: float = 0.25) -> PreTrainedModel:
    """A copy of ``model`` without the least important ``share`` of its attention heads; ``model`` is unchanged.

    Heads are removed across all layers by ascending ``importance`` (from :func:`head_importance`), but every
    layer keeps at least one head. Removing a head deletes its rows of the query, key and value projections and
    its columns of the output projection, so the copy is smaller and cheaper, not just masked. The removed heads
    are recorded in ``config.pruned_heads`` (``{layer: [head, ...]}``, original numbering), which
    ``inference.flops.early_exit_flops`` prices. ``save_pretrained`` writes the smaller weights, but transformers 5 no longer
    rebuilds pruned heads in ``from_pretrained``: recreate the copy from the original model and the importance.

    Parameters
    ----------
    model:
        A BERT-architecture model whose heads have not been pruned yet.
    importance:
        Scores of shape ``(layers, heads)``; lower means removed first (ties: earlier layer, then earlier head).
    share:
        Fraction of all heads to remove, in ``[0, 1)`` (rounded to a whole number of heads).

    Examples
    --------
    >>> smaller = prune_heads(model, head_importance(model, tokenized_train), share=0.5)  # doctest: +SKIP
    >>> smaller.config.pruned_heads  # doctest: +SKIP
    {0: [3, 7, 9], 1: [0, 2, 5, 11], ...}

    With scores given by hand, for a BERT of 2 layers of 4 heads (4-wide) built from a config:

    >>> from transformers import BertConfig, BertForSequenceClassification
    >>> model = BertForSequenceClassification(BertConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
    ...                                                  intermediate_size=32, vocab_size=20))
    >>> importance = np.array([[0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.7, 0.05]])
    >>> smaller = prune_heads(model, importance, share=0.5)                  # the 4 lowest scores go
    >>> smaller.config.pruned_heads
    {0: [1, 3], 1: [0, 3]}
    >>> smaller.bert.encoder.layer[0].attention.self.query.out_features      # 2 heads of 4 left
    8
    >>> model.bert.encoder.layer[0].attention.self.query.out_features       # the original keeps them all
    16
    """
    layers = _encoder_layers(model, "prune_heads")
    num_heads = model.config.num_attention_heads
    scores = np.asarray(importance, dtype=np.float64)
    if getattr(model.config, "pruned_heads", None):
        raise ValueError("prune_heads() prunes an unpruned model; start again from the original model.")
    if scores.shape != (len(layers), num_heads) or not np.isfinite(scores).all():
        raise ValueError(f"importance must be finite scores of shape (layers, heads) = ({len(layers)}, {num_heads}); "
                         f"got shape {scores.shape}.")
    if not isinstance(share, (int, float)) or not 0 <= share < 1:
        raise ValueError(f"share is the fraction of heads to remove, in [0, 1); got {share!r}.")
    wanted = round(share * scores.size)
    remaining = [num_heads] * len(layers)
    removed: dict[int, list[int]] = {}
    for flat in np.argsort(scores, axis=None, kind="stable"):
        if wanted == 0:
            break
        layer, head = divmod(int(flat), num_heads)
        if remaining[layer] > 1:
            remaining[layer] -= 1
            removed.setdefault(layer, []).append(head)
            wanted -= 1
    pruned = copy.deepcopy(model)
    for layer_index, heads in removed.items():
        _remove_heads(_encoder_layers(pruned, "prune_heads")[layer_index].attention, heads)
    pruned.config.pruned_heads = {layer: sorted(heads) for layer, heads in sorted(removed.items())}
    return pruned


def _remove_heads(attention: nn.Module, heads: list[int]) -> None:
    self_attention = attention.self
    size = self_attention.attention_head_size
    keep = torch.ones(self_attention.num_attention_heads, size, dtype=torch.bool)
    keep[heads] = False
    index = torch.arange(keep.numel())[keep.view(-1)]
    for name in ("query", "key", "value"):
        setattr(self_attention, name, _prune_linear(getattr(self_attention, name), index, dim=0))
    attention.output.dense = _prune_linear(attention.output.dense, index, dim=1)
    self_attention.num_attention_heads -= len(heads)
    self_attention.all_head_size = self_attention.num_attention_heads * size


def _prune_linear(layer: nn.Linear, index: torch.Tensor, dim: int) -> nn.Linear:
    # prune_linear_layer builds a float32 layer: keep the model's dtype (bf16 weights stay bf16)
    return prune_linear_layer(layer, index, dim=dim).to(dtype=layer.weight.dtype)
