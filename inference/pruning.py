"""Structured pruning by layers (LayerDrop, Fan et al. 2020): keep any subset of a BERT encoder's layers at
inference, or take the first k layers of a teacher as a student to distil into."""
from __future__ import annotations

import copy
from collections.abc import Sequence

from torch import nn
from transformers import PreTrainedModel


def keep_layers(model: PreTrainedModel, layers: Sequence[int]) -> PreTrainedModel:
    """A copy of ``model`` that runs only the encoder layers ``layers`` (0-based, in order); ``model`` is left
    unchanged. Works for BERT-architecture models (``base_model.encoder.layer``), e.g.
    ``BertForSequenceClassification``; not for ``EarlyExitClassifier``, whose exits sit after given layers.

    Dropping layers without retraining works when the model was trained with LayerDrop (Fan et al. 2020); after
    ordinary fine-tuning, keep the first layers and fine-tune or distil (:class:`DistillationTrainer`).

    >>> from transformers import BertConfig, BertForSequenceClassification
    >>> model = BertForSequenceClassification(BertConfig(hidden_size=8, num_hidden_layers=4, num_attention_heads=2,
    ...                                                  intermediate_size=16, vocab_size=20))
    >>> keep_layers(model, [0, 2]).config.num_hidden_layers
    2
    """
    encoder = getattr(getattr(model, "base_model", None), "encoder", None)
    if encoder is None or not isinstance(getattr(encoder, "layer", None), nn.ModuleList):
        raise ValueError(f"keep_layers() needs a BERT-architecture model (base_model.encoder.layer); got {type(model).__name__}.")
    if type(model).__name__ == "EarlyExitClassifier":
        raise ValueError("keep_layers() does not apply to EarlyExitClassifier: use its exits (predict(threshold=...)).")
    total = len(encoder.layer)
    kept = [int(layer) for layer in layers]
    if not kept or kept != sorted(set(kept)) or kept[0] < 0 or kept[-1] >= total:
        raise ValueError(f"layers must be increasing 0-based layer indices below {total}; got {list(layers)}.")
    pruned = copy.deepcopy(model)
    pruned_encoder = pruned.base_model.encoder
    pruned_encoder.layer = nn.ModuleList(pruned_encoder.layer[i] for i in kept)
    pruned.config.num_hidden_layers = len(kept)
    return pruned
