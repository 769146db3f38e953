"""Both-ends, middle and stratified selection: exact counts, class proportions, thresholds and clear errors."""
import numpy as np
import pandas as pd
import pytest
from datasets import Dataset

from greennlp.filters import select_by_score, select_stratified
from greennlp.filters.stratified import class_quotas, keep_positions


def test_keep_positions_every_mode():
    scores = np.arange(10, dtype=float)  # position == score
    assert sorted(keep_positions(scores, 0.3, keep="highest")) == [7, 8, 9]
    assert sorted(keep_positions(scores, 0.3, keep="lowest")) == [0, 1, 2]
    assert sorted(keep_positions(scores, 0.3, keep="both")) == [0, 8, 9]  # odd count: extra one from the top
    assert sorted(keep_positions(scores, 0.4, keep="middle")) == [3, 4, 5, 6]
    assert sorted(keep_positions(scores, threshold=(2, 7), keep="both")) == [0, 1, 2, 7, 8, 9]
    assert sorted(keep_positions(scores, threshold=(2, 7), keep="middle")) == [2, 3, 4, 5, 6, 7]
    assert sorted(keep_positions(scores, threshold=8, keep="highest")) == [8, 9]
    random = keep_positions(scores, 0.5, keep="random", seed=3)
    assert len(random) == 5 and (random == keep_positions(scores, 0.5, keep="random", seed=3)).all()


@pytest.mark.parametrize("fraction,expected", [(0.1, 10), (0.33, 33), (0.335, 34), (0.5, 51), (1.0, 101)])
def test_exact_fractions_round_half_up(fraction, expected):
    scores = np.random.default_rng(0).normal(size=101)
    for keep in ("both", "middle", "random", "highest"):
        kept = keep_positions(scores, fraction, keep=keep)
        assert len(kept) == expected and len(set(kept.tolist())) == expected  # 50.5 rows -> 51: half up


def test_keep_positions_errors():
    with pytest.raises(ValueError, match="fraction must be in \\(0, 1\\]"):
        keep_positions(np.zeros(4), 1.5, keep="both")
    with pytest.raises(ValueError, match="fraction must be in \\(0, 1\\]"):
        keep_positions(np.zeros(4), 0.0, keep="middle")
    with pytest.raises(ValueError, match="exactly one"):
        keep_positions(np.zeros(4), keep="both")
    with pytest.raises(ValueError, match="threshold=\\(low, high\\)"):
        keep_positions(np.zeros(4), threshold=0.5, keep="both")
    with pytest.raises(ValueError, match="low <= high"):
        keep_positions(np.zeros(4), threshold=(2, 1), keep="middle")
    with pytest.raises(ValueError, match="keep='top'"):
        keep_positions(np.zeros(4), 0.5, keep="top")


@pytest.fixture
def imbalanced():
    # 60 / 30 / 10 rows of classes 0 / 1 / 2; the score is the row number
    labels = [0] * 60 + [1] * 30 + [2] * 10
    return Dataset.from_dict({"id": [f"ex{i}" for i in range(100)], "label": labels,
                              "score": [float(i) for i in range(100)]})


def test_both_ends_and_middle_keep_rows_in_original_order(imbalanced):
    kept = select_by_score(imbalanced, "score", fraction=0.1, keep="both")
    assert list(kept["score"]) == [0.0, 1.0, 2.0, 3.0, 4.0, 95.0, 96.0, 97.0, 98.0, 99.0]
    middle = select_by_score(imbalanced, np.arange(100), fraction=0.1, keep="middle", return_ids=True)
    assert list(middle) == list(range(45, 55))
    series = pd.Series(np.arange(100.0), index=[f"ex{i}" for i in range(100)])[::-1]  # shuffled order, keyed by id
    ids = select_by_score(imbalanced, series, fraction=0.04, keep="both", id_column="id", return_ids=True)
    assert sorted(ids) == ["ex0", "ex1", "ex98", "ex99"]


@pytest.mark.parametrize("fraction", [0.1, 0.33, 0.5])
def test_stratified_preserves_class_proportions(imbalanced, fraction):
    kept = select_stratified(imbalanced, "score", fraction, keep="highest")
    total = int(np.floor(fraction * 100 + 0.5))
    assert len(kept) == total
    counts = pd.Series(list(kept["label"])).value_counts()
    for label, share in ((0, 0.6), (1, 0.3), (2, 0.1)):
        assert abs(counts.get(label, 0) - share * total) < 1
    # within each class the highest scores were taken
    for label in (0, 1, 2):
        chosen = [s for s, lab in zip(kept["score"], kept["label"], strict=True) if lab == label]
        rows = [s for s, lab in zip(imbalanced["score"], imbalanced["label"], strict=True) if lab == label]
        assert sorted(chosen) == sorted(rows)[len(rows) - len(chosen):]


def test_stratified_random_baseline_and_equal_balance(imbalanced):
    random = select_stratified(imbalanced, None, 0.5, keep="random", seed=1)
    again = select_stratified(imbalanced, None, 0.5, keep="random", seed=1)
    assert list(random["id"]) == list(again["id"]) and len(random) == 50
    assert list(random["id"]) != list(select_stratified(imbalanced, None, 0.5, keep="random", seed=2)["id"])
    equal = select_stratified(imbalanced, "score", 0.3, keep="lowest", balance="equal")
    assert pd.Series(list(equal["label"])).value_counts().to_dict() == {0: 10, 1: 10, 2: 10}
    with pytest.raises(ValueError, match="too small for balance='equal'"):
        select_stratified(imbalanced, "score", 0.5, balance="equal")
    both = select_stratified(imbalanced, "score", 0.2, keep="both", return_ids=True, id_column="id")
    assert len(both) == 20 and "ex0" in both and "ex59" in both


def test_class_quotas_add_up_exactly():
    labels = ["a"] * 7 + ["b"] * 7 + ["c"] * 7
    assert class_quotas(labels, 10) == {"a": 4, "b": 3, "c": 3}
    assert sum(class_quotas(np.repeat([0, 1, 2], [5, 3, 1]), 7).values()) == 7


def test_stratified_clear_errors(imbalanced):
    with pytest.raises(ValueError, match="unknown score 'loss'"):
        select_stratified(imbalanced, "loss", 0.5)
    with pytest.raises(ValueError, match="label_column='gold'"):
        select_stratified(imbalanced, "score", 0.5, label_column="gold")
    with pytest.raises(ValueError, match="pass scores"):
        select_stratified(imbalanced, None, 0.5, keep="highest")
    with pytest.raises(ValueError, match="fraction must be in \\(0, 1\\]"):
        select_stratified(imbalanced, "score", 1.2)
    with pytest.raises(ValueError, match="one score per row"):
        select_by_score(imbalanced, np.zeros(5), fraction=0.5, keep="both")
    with pytest.raises(ValueError, match="describes 2 examples by row position"):
        select_by_score(imbalanced, pd.Series([1.0, 2.0]), fraction=0.5, keep="middle")
    with pytest.raises(ValueError, match=r"keep='ends'\); choose one of \['highest', 'lowest', 'both', 'middle'\]"):
        select_by_score(imbalanced, "score", fraction=0.5, keep="ends")
