"""Fixtures for the budgets tests."""
import pytest


def analytic_bert_classifier_flops(config, batch: int, length: int) -> int:
    """Forward FLOPs (multiply-add = 2) of a BERT classifier; embeddings are lookups and cost nothing."""
    h, i, c = config.hidden_size, config.intermediate_size, config.num_labels
    tokens = batch * length
    per_layer = 2 * tokens * h * (4 * h + 2 * i)  # Q, K, V, output projections + two FFN matmuls
    per_layer += 2 * batch * length * length * 2 * h  # QK^T and AV over all heads
    head = 2 * batch * h * h + 2 * batch * h * c  # pooler on [CLS] + classifier
    return config.num_hidden_layers * per_layer + head


@pytest.fixture(scope="session")
def analytic_flops():
    """The analytic forward FLOP count of a BERT classifier: ``analytic_flops(config, batch, length)``."""
    return analytic_bert_classifier_flops
