"""Structured pruning by layers (LayerDrop, Fan et al. 2020): train with random layers skipped so that any subset
of a BERT encoder's layers can be kept at inference, or take the first k layers of a teacher as a student."""
from __future__ import annotations

import copy
import types
from collections.abc import Sequence

import torch
from torch import nn
from transformers import PreTrainedModel

from ._checks import whole_numbers


def layer_drop(model: PreTrainedModel, *, probability: float = 0.2) -> PreTrainedModel:
    """A copy of ``model`` whose encoder layers are each skipped with ``probability`` in every training forward
    pass (LayerDrop, Fan et al. 2020); in eval mode it computes exactly what ``model`` computes.

    Why: a network trained with random layers missing learns not to depend on any one of them, so that
    :func:`keep_layers` can afterwards keep any subset (e.g. every other layer) without retraining. Train the
    copy through any path (``encoders.fine_tune``, a plain ``Trainer``, :class:`DistillationTrainer`): each layer
    draws one number per batch from torch's global generator, which ``Trainer`` seeds with ``args.seed`` (so a
    seeded run is reproducible) and gradient checkpointing replays (so a recomputed layer makes the same choice).
    The weights and their names are unchanged: ``save_pretrained`` writes a plain model. ``probability=0``
    returns a copy without LayerDrop. Works for BERT-architecture models (``base_model.encoder.layer``).

    Parameters
    ----------
    model:
        A classifier such as ``BertForSequenceClassification`` (e.g. from ``encoders.load_encoder``).
    probability:
        Chance that a layer is skipped in a training batch, in ``[0, 1)``. Fan et al. use 0.2; a model meant
        to lose more of its layers afterwards is trained with a higher rate (e.g. 0.5 to keep half).

    Examples
    --------
    >>> from greennlp.encoders import fine_tune, load_encoder
    >>> model = layer_drop(load_encoder("sentence-transformers/all-MiniLM-L6-v2", num_labels=2), probability=0.5)  # doctest: +SKIP
    >>> fine_tune(model, tokenizer, train, seed=0)  # doctest: +SKIP
    >>> half = keep_layers(model, [0, 2, 4])   # every other layer, no retraining  # doctest: +SKIP
    """
    if not isinstance(probability, (int, float)) or not 0 <= probability < 1:
        raise ValueError(f"probability is the chance of skipping a layer in training, in [0, 1); got {probability!r}.")
    _encoder_layers(model, "layer_drop")
    dropped = copy.deepcopy(model)
    for layer in _encoder_layers(dropped, "layer_drop"):
        layer.__dict__.pop("forward", None)  # an earlier layer_drop's wrapper
        layer.__dict__.pop("layer_drop_probability", None)
        if probability > 0:
            layer.layer_drop_probability = float(probability)
            # an instance attribute bound to the layer itself: deepcopy (keep_layers) rebinds it to the copy
            layer.forward = types.MethodType(_forward_or_skip, layer)
    return dropped


def _forward_or_skip(self: nn.Module, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    if self.training and bool(torch.rand(()) < self.layer_drop_probability):
        return hidden_states
    return type(self).forward(self, hidden_states, *args, **kwargs)


def keep_layers(model: PreTrainedModel, layers: Sequence[int]) -> PreTrainedModel:
    """A copy of ``model`` that runs only the encoder layers ``layers`` (0-based, in order); ``model`` is left
    unchanged. Works for BERT-architecture models (``base_model.encoder.layer``), e.g.
    ``BertForSequenceClassification``; not for ``EarlyExitClassifier``, whose exits sit after given layers.

    Dropping layers without retraining works when the model was trained with :func:`layer_drop` (Fan et al.
    2020); after ordinary fine-tuning, keep the first layers and fine-tune or distil (:class:`DistillationTrainer`).
    Heads removed by :func:`prune_heads` stay removed (``config.pruned_heads`` is renumbered).

    >>> from transformers import BertConfig, BertForSequenceClassification
    >>> model = BertForSequenceClassification(BertConfig(hidden_size=8, num_hidden_layers=4, num_attention_heads=2,
    ...                                                  intermediate_size=16, vocab_size=20))
    >>> keep_layers(model, [0, 2]).config.num_hidden_layers
    2
    """
    encoder_layers = _encoder_layers(model, "keep_layers")
    if type(model).__name__ == "EarlyExitClassifier":
        raise ValueError("keep_layers() does not apply to EarlyExitClassifier: use its exits (predict(threshold=...)).")
    total = len(encoder_layers)
    kept = whole_numbers(layers)  # int(0.9) would quietly keep layer 0
    if not kept or kept != sorted(set(kept)) or kept[0] < 0 or kept[-1] >= total:
        raise ValueError(f"layers must be increasing 0-based layer indices (whole numbers) below {total}; got "
                         f"{layers!r}.")
    pruned = copy.deepcopy(model)
    pruned_encoder = pruned.base_model.encoder
    pruned_encoder.layer = nn.ModuleList(pruned_encoder.layer[i] for i in kept)
    pruned.config.num_hidden_layers = len(kept)
    removed_heads = {int(layer): heads for layer, heads in (getattr(pruned.config, "pruned_heads", None) or {}).items()}
    if removed_heads:
        pruned.config.pruned_heads = {new: removed_heads[old] for new, old in enumerate(kept) if old in removed_heads}
    return pruned


def _encoder_layers(model: nn.Module, caller: str) -> nn.ModuleList:
    encoder = getattr(getattr(model, "base_model", None), "encoder", None)
    if encoder is None or not isinstance(getattr(encoder, "layer", None), nn.ModuleList):
        raise ValueError(f"{caller}() needs a BERT-architecture model (base_model.encoder.layer); got {type(model).__name__}.")
    return encoder.layer
