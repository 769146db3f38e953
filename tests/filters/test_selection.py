"""Selection by region, score and at random: exact fractions, ids, reproducibility, clear errors."""
import numpy as np
import pandas as pd
import pytest
from datasets import Dataset

from greennlp.datamaps import DataMap
from greennlp.filters import select_by_region, select_by_score, select_random


@pytest.fixture
def dataset():
    return Dataset.from_dict({"text": [f"t{i}" for i in range(40)], "label": [i % 2 for i in range(40)],
                              "guid": [f"g{i:02d}" for i in range(40)]})


def data_map_for(n, ids=None, seed=0):
    rng = np.random.default_rng(seed)
    return DataMap.from_logits(rng.normal(size=(n, 3, 2)), rng.integers(0, 2, n), ids=ids)


def test_select_by_region_returns_the_regions_rows(dataset):
    data_map = data_map_for(40)
    ambiguous = select_by_region(dataset, data_map, "ambiguous", fraction=0.33)
    assert isinstance(ambiguous, Dataset) and len(ambiguous) == 13
    expected = sorted(data_map.select("ambiguous", fraction=0.33))
    assert ambiguous["text"] == [f"t{i}" for i in expected]  # original order kept
    ids = select_by_region(dataset, data_map, "hard", fraction=0.25, return_ids=True)
    assert len(ids) == 10 and list(ids) == list(data_map.select("hard-to-learn", fraction=0.25))


def test_select_by_region_with_an_id_column(dataset):
    shuffled = dataset.shuffle(seed=3)  # the map's ids, not positions, decide
    data_map = data_map_for(40, ids=dataset["guid"])
    data_map.metadata["id_column"] = "guid"
    easy = select_by_region(shuffled, data_map, "easy-to-learn", fraction=0.5)
    assert sorted(easy["guid"]) == sorted(data_map.select("easy", fraction=0.5))
    with pytest.raises(ValueError, match="not a column"):
        select_by_region(shuffled.remove_columns("guid"), data_map, "easy", fraction=0.5)


def test_size_mismatch_is_an_error(dataset):
    with pytest.raises(ValueError, match="describe 30 examples"):
        select_by_region(dataset, data_map_for(30), "ambiguous", fraction=0.3)


def test_select_by_score_threshold_and_direction(dataset):
    scores = pd.Series(np.arange(40, dtype=float))
    top = select_by_score(dataset, scores, threshold=35)
    assert top["text"] == [f"t{i}" for i in range(35, 40)]
    bottom = select_by_score(dataset, np.arange(40.0), fraction=0.1, highest=False)
    assert bottom["text"] == ["t0", "t1", "t2", "t3"]
    with pytest.raises(ValueError, match="one per row"):
        select_by_score(dataset, np.arange(5.0), fraction=0.5)
    with pytest.raises(ValueError, match="fraction must be in"):
        select_by_score(dataset, scores, fraction=1.2)


def test_select_random_is_exact_and_reproducible(dataset):
    first = select_random(dataset, 0.33, seed=7)
    assert len(first) == 13
    assert first["text"] == select_random(dataset, 0.33, seed=7)["text"]
    assert first["text"] != select_random(dataset, 0.33, seed=8)["text"]
    assert len(select_random(dataset, 1.0)) == 40
    assert len(select_random(dataset, 0.33, seed=7, return_ids=True)) == 13
