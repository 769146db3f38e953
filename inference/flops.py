"""FLOPs of BERT inference counted from the config (a multiply-add is 2 FLOPs): the price of one example by the
number of layers it runs and the heads each layer keeps, so early exit, LayerDrop, students and head-pruned models
are priced the same way."""
from __future__ import annotations

from transformers import PretrainedConfig


def layer_flops(config: PretrainedConfig, num_tokens: int, *, heads: int | None = None) -> int:
    """FLOPs of one BERT layer on one example of ``num_tokens`` tokens (no padding): the query, key, value and
    output projections (``8 n h a``), attention scores and their weighted sum (``4 n^2 a``) and the feed-forward
    block (``4 n h i``), where ``a`` is the width of the layer's ``heads`` attention heads (all of them, ``a = h``,
    by default). Layer norms, softmax and activations are elementwise and not counted, as in
    ``torch.utils.flop_counter``; the counts agree with it exactly (tests/inference/test_flops.py).

    >>> from transformers import BertConfig
    >>> layer_flops(BertConfig(hidden_size=4, intermediate_size=8, num_attention_heads=1), 2)
    576
    """
    n, h, i = num_tokens, config.hidden_size, config.intermediate_size
    a = h if heads is None else heads * (h // config.num_attention_heads)
    return 8 * n * h * a + 4 * n * n * a + 4 * n * h * i


def exit_flops(config: PretrainedConfig) -> int:
    """FLOPs of one exit classifier on one example: the pooler on [CLS] (``2 h^2``) and the linear layer
    (``2 h k``)."""
    h = config.hidden_size
    return 2 * h * h + 2 * h * config.num_labels


def early_exit_flops(config: PretrainedConfig, num_tokens: int, exit_layer: int) -> int:
    """FLOPs of one example that runs ``exit_layer`` layers and every exit classifier up to that layer
    (``config.exit_layers``; a plain classifier has one, after its last layer, so ``exit_layer =
    config.num_hidden_layers`` prices any BERT classifier, e.g. a student from ``keep_layers``). Heads removed by
    ``prune_heads`` (``config.pruned_heads``) are not counted."""
    exits = getattr(config, "exit_layers", None) or [config.num_hidden_layers]
    evaluated = sum(1 for layer in exits if layer <= exit_layer)
    removed = {int(layer): len(heads) for layer, heads in (getattr(config, "pruned_heads", None) or {}).items()}
    layers = sum(layer_flops(config, num_tokens, heads=config.num_attention_heads - removed.get(layer, 0))
                 for layer in range(exit_layer))
    return layers + evaluated * exit_flops(config)
