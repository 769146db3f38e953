"""The metric definitions, pinned against values computed by hand."""
import numpy as np
import pytest
import torch

from greennlp.datamaps import DataMap
from greennlp.datamaps.metrics import el2n, gold_statistics, metrics_from_arrays


def test_gold_statistics_by_hand(device):
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 3.0, 1.0]], device=device)
    # gold on the host, as DataMapCallback reads it from the dataset when the batch has no labels
    stats = gold_statistics(logits, torch.tensor([0, 2]))
    expected_p = np.exp([2.0, 1.0]) / np.array([np.exp([2, 0, -1]).sum(), np.exp([0, 3, 1]).sum()])
    np.testing.assert_allclose(stats["p_gold"].cpu().numpy(), expected_p, rtol=1e-6)
    assert stats["correct"].tolist() == [True, False]
    # margin = gold logit - largest other logit
    np.testing.assert_allclose(stats["margin"].cpu().numpy(), [2.0 - 0.0, 1.0 - 3.0])


def test_metric_table_by_hand():
    # one example, four epochs: p(gold) .2 .6 .4 .8, correct F T F T
    p = np.array([[0.2, 0.6, 0.4, 0.8]])
    correct = np.array([[False, True, False, True]])
    margin = np.array([[-1.0, 0.5, -0.5, 2.0]])
    table = metrics_from_arrays(p, correct, margin, gold=[1])
    row = table.iloc[0]
    assert row["confidence"] == pytest.approx(0.5)
    assert row["variability"] == pytest.approx(np.sqrt(0.05))  # ddof=0: mean of (.09, .01, .01, .09)
    assert row["correctness"] == pytest.approx(0.5)  # a fraction of epochs, by argmax
    assert row["forgetfulness"] == 1  # T -> F once (epoch 2 -> 3); F -> T is learning, not forgetting
    assert row["aum"] == pytest.approx(0.25)
    assert row["observations"] == 4
    assert "el2n" not in table.columns


def test_forgetfulness_counts_every_correct_to_incorrect_transition():
    correct = np.array([[True, False, True, False, False, True]])
    table = metrics_from_arrays(np.full((1, 6), 0.5), correct, np.zeros((1, 6)), gold=[0])
    assert table["forgetfulness"].iloc[0] == 2


def test_missing_records_are_skipped():
    p = np.array([[0.2, np.nan, 0.8], [np.nan, np.nan, np.nan]])
    table = metrics_from_arrays(p, np.zeros((2, 3), bool), np.zeros((2, 3)), gold=[0, 1])
    assert table["confidence"].iloc[0] == pytest.approx(0.5)
    assert table["observations"].tolist() == [2, 0]
    assert np.isnan(table["confidence"].iloc[1])


def test_el2n_by_hand():
    probabilities = np.array([[0.7, 0.2, 0.1]])
    assert el2n(probabilities, [0])[0] == pytest.approx(np.sqrt(0.3**2 + 0.2**2 + 0.1**2))


def test_variability_matches_numpy_population_std():
    rng = np.random.default_rng(0)
    p = rng.random((50, 7))
    table = metrics_from_arrays(p, p > 0.5, rng.normal(size=(50, 7)), gold=np.zeros(50))
    np.testing.assert_allclose(table["variability"], p.std(axis=1, ddof=0), atol=1e-9)
    np.testing.assert_allclose(table["confidence"], p.mean(axis=1))


def test_from_logits_takes_tensors_on_any_device(device):
    rng = np.random.default_rng(2)
    logits, gold = rng.normal(size=(6, 2, 3)).astype(np.float32), rng.integers(0, 3, size=6)
    expected = DataMap.from_logits(logits, gold).table
    on_device = DataMap.from_logits(torch.from_numpy(logits).to(device), torch.from_numpy(gold).to(device))
    np.testing.assert_allclose(on_device.table["confidence"], expected["confidence"], rtol=1e-6)
    bf16 = DataMap.from_logits(torch.from_numpy(logits).to(device).bfloat16(), gold)  # numpy cannot read bf16
    np.testing.assert_allclose(bf16.table["confidence"], expected["confidence"], atol=2e-2)


def test_from_logits_matches_from_arrays_and_el2n():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(20, 3, 4))
    gold = rng.integers(0, 4, size=20)
    data_map = DataMap.from_logits(logits, gold)
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    p_gold = probabilities[np.arange(20), :, gold]
    np.testing.assert_allclose(data_map.table["confidence"], p_gold.mean(1), rtol=1e-5)
    one_hot = np.eye(4)[gold][:, None, :]
    np.testing.assert_allclose(data_map.table["el2n"], np.linalg.norm(probabilities - one_hot, axis=-1).mean(1), rtol=1e-5)
    assert (data_map.table["correctness"] == (logits.argmax(-1) == gold[:, None]).mean(1)).all()


def test_shape_errors():
    with pytest.raises(ValueError, match="shape"):
        metrics_from_arrays(np.zeros(3), np.zeros(3), np.zeros(3), gold=[0, 0, 0])
    with pytest.raises(ValueError, match="same"):
        metrics_from_arrays(np.zeros((3, 2)), np.zeros((3, 1)), np.zeros((3, 2)), gold=[0, 0, 0])
