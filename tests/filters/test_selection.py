"""Selection by region, score and at random: exact fractions, ids, reproducibility, clear errors."""
import logging

import numpy as np
import pandas as pd
import pytest
from datasets import Dataset

from greennlp.datamaps import DataMap
from greennlp.datamaps.storage import write_cartography_jsonl
from greennlp.filters import select_by_region, select_by_score, select_random, select_stratified

N = 40


@pytest.fixture
def dataset():
    return Dataset.from_dict({"text": [f"t{i}" for i in range(N)], "label": [i % 2 for i in range(N)],
                              "guid": [f"g{i:02d}" for i in range(N)], "idx": [100 + i for i in range(N)]})


def data_map_for(n=N, seed=0, **kwargs):
    """A random map whose gold labels are the fixture's (row i has label i % 2)."""
    rng = np.random.default_rng(seed)
    return DataMap.from_logits(rng.normal(size=(n, 3, 2)), np.arange(n) % 2, **kwargs)


def test_select_by_region_returns_the_regions_rows(dataset):
    data_map = data_map_for()
    ambiguous = select_by_region(dataset, data_map, "ambiguous", fraction=0.33)
    assert isinstance(ambiguous, Dataset) and len(ambiguous) == 13
    expected = sorted(data_map._select("ambiguous", fraction=0.33))
    assert ambiguous["text"] == [f"t{i}" for i in expected]  # original order kept
    ids = select_by_region(dataset, data_map, "ambiguous", fraction=0.25, return_ids=True)
    assert len(ids) == 10 and list(ids) == list(data_map._select("ambiguous", fraction=0.25))


def test_selection_agrees_with_the_region_column(dataset, caplog):
    data_map = data_map_for(seed=4)
    region_of = data_map.table["region"]
    for region in ("ambiguous", "easy-to-learn", "hard-to-learn"):
        members = set(region_of.index[region_of == region])
        selected = select_by_region(dataset, data_map, region, return_ids=True)  # default options: the region
        assert set(selected) == members
        share = len(members) / N
        inside = data_map._select(region, fraction=share)  # a fraction up to the region's share stays inside
        assert len(inside) == len(members) and set(inside) <= members
    # A larger fraction: the whole region first, then the next examples in the region's sort order; exact count.
    hard = set(region_of.index[region_of == "hard-to-learn"])
    with caplog.at_level(logging.WARNING, logger="greennlp.datamaps.regions"):
        chosen = data_map._select("hard", fraction=0.75)
    assert len(chosen) == 30 and hard <= set(chosen) and "hard-to-learn holds" in caplog.text
    outside = data_map.table.drop(index=list(hard))
    assert outside.loc[list(set(chosen) - hard), "confidence"].max() <= outside.drop(
        index=list(set(chosen) - hard))["confidence"].min()
    ambiguous = data_map._select("ambiguous", threshold=0.1)
    assert set(ambiguous) <= set(region_of.index[region_of == "ambiguous"])


def test_cartography_guids_select_exactly_the_rows_with_those_guids(dataset, tmp_path):
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(N, 3, 2))
    for epoch in range(3):
        order = rng.permutation(N)
        write_cartography_jsonl(tmp_path, epoch, [f"g{i:02d}" for i in order], logits[order, epoch],
                                (np.arange(N) % 2)[order])
    data_map = DataMap.from_cartography_jsonl(tmp_path)  # guids, expected in the column "guid"
    shuffled = dataset.shuffle(seed=1)
    ambiguous = select_by_region(shuffled, data_map, "ambiguous", fraction=0.33)
    assert len(ambiguous) == 13 and set(ambiguous["guid"]) == set(data_map._select("ambiguous", fraction=0.33))
    renamed = shuffled.rename_column("guid", "example_id")
    with pytest.raises(ValueError, match=r"id_column=.*'example_id' holds all of them"):
        select_by_region(renamed, data_map, "ambiguous", fraction=0.33)
    again = select_by_region(renamed, data_map, "ambiguous", fraction=0.33, id_column="example_id")
    assert set(again["example_id"]) == set(ambiguous["guid"])


def test_string_ids_without_a_column_are_an_error_not_a_crash(dataset):
    data_map = data_map_for(ids=dataset["guid"])  # the ids' column is unknown: "id" by default
    assert data_map.id_column == "id"
    with pytest.raises(ValueError, match=r"expected in column 'id'.*Pass id_column=.*'guid' holds all of them"):
        select_by_region(dataset, data_map, "ambiguous", fraction=0.5)
    easy = select_by_region(dataset.shuffle(seed=3), data_map, "easy", fraction=0.2, id_column="guid")
    assert sorted(easy["guid"]) == sorted(data_map._select("easy", fraction=0.2))


def test_integer_ids_that_are_not_positions_select_by_id(dataset):
    reverse = list(reversed(dataset["idx"]))  # map row k is the example with idx 139 - k
    rng = np.random.default_rng(0)
    data_map = DataMap.from_logits(rng.normal(size=(N, 3, 2)), (np.arange(N)[::-1]) % 2, ids=reverse,
                                   id_column="idx")
    shuffled = dataset.shuffle(seed=2)
    chosen = select_by_region(shuffled, data_map, "ambiguous", fraction=0.33)
    assert sorted(chosen["idx"]) == sorted(data_map._select("ambiguous", fraction=0.33))
    # the same ids as strings are matched as text; an id missing from the dataset is an error, never fewer rows
    as_text = DataMap.from_logits(rng.normal(size=(N, 3, 2)), np.zeros(N), ids=[str(i) for i in reverse],
                                  id_column="idx")
    assert len(select_by_region(shuffled, as_text, "ambiguous", fraction=0.5)) == 20
    with pytest.raises(ValueError, match=r"1 of 40 example ids are not in column 'idx'"):
        select_by_region(shuffled.filter(lambda row: row["idx"] != reverse[0]), data_map, "ambiguous", fraction=1.0)
    with pytest.raises(ValueError, match="duplicate ids"):
        select_by_region(dataset.remove_columns("idx").add_column("idx", [100] * N), data_map, "ambiguous",
                         fraction=0.5)


def test_a_shuffled_dataset_is_refused_for_a_position_keyed_map(dataset):
    data_map = data_map_for()
    with pytest.raises(ValueError, match="differs from the map's gold label.*shuffled"):
        select_by_region(dataset.shuffle(seed=1), data_map, "ambiguous", fraction=0.33)
    with pytest.raises(ValueError, match="describes 30 examples"):
        select_by_region(dataset, data_map_for(30), "ambiguous", fraction=0.3)


def test_score_selectors_match_rows_through_the_data_map(dataset):
    rng = np.random.default_rng(5)
    data_map = DataMap.from_logits(rng.normal(size=(N, 3, 2)), np.arange(N) % 2, ids=dataset["guid"],
                                   id_column="guid")
    shuffled = dataset.shuffle(seed=4)
    aum = data_map.scores("aum")
    low = select_by_score(shuffled, aum, fraction=0.25, keep="lowest")  # the Series' index names the column
    assert sorted(low["guid"]) == sorted(aum.nsmallest(10).index)
    assert sorted(select_by_score(shuffled, aum, fraction=0.25, keep="lowest", data_map=data_map)["guid"]) == sorted(
        low["guid"])
    ends = select_by_score(shuffled, "aum", fraction=0.2, keep="both", data_map=data_map, return_ids=True)
    assert ends.name == "guid" and set(ends) == set(aum.nlargest(4).index) | set(aum.nsmallest(4).index)
    stratified = select_stratified(shuffled, "confidence", 0.5, keep="lowest", data_map=data_map)
    assert len(stratified) == 20 and sorted(stratified["label"]) == [0] * 10 + [1] * 10
    positions = data_map_for()
    with pytest.raises(ValueError, match="differs from the map's gold label"):
        select_stratified(shuffled, "confidence", 0.5, data_map=positions)


def test_select_by_score_threshold_and_direction(dataset):
    scores = pd.Series(np.arange(40, dtype=float))
    top = select_by_score(dataset, scores, threshold=35)
    assert top["text"] == [f"t{i}" for i in range(35, 40)]
    bottom = select_by_score(dataset, np.arange(40.0), fraction=0.1, keep="lowest")
    assert bottom["text"] == ["t0", "t1", "t2", "t3"]
    by_column = select_by_score(dataset.add_column("score", np.arange(40.0)), "score", fraction=0.1, keep="lowest")
    assert by_column["text"] == bottom["text"]
    with pytest.raises(ValueError, match="one per row"):
        select_by_score(dataset, np.arange(5.0), fraction=0.5)
    with pytest.raises(ValueError, match="fraction must be in"):
        select_by_score(dataset, scores, fraction=1.2)
    with pytest.raises(ValueError, match="Pass id_column="):
        select_by_score(dataset, pd.Series(np.arange(40.0), index=dataset["guid"]), fraction=0.5)


def test_select_random_is_exact_and_reproducible(dataset):
    first = select_random(dataset, 0.33, seed=7)
    assert len(first) == 13
    assert first["text"] == select_random(dataset, 0.33, seed=7)["text"]
    assert first["text"] != select_random(dataset, 0.33, seed=8)["text"]
    assert len(select_random(dataset, 1.0)) == 40
    assert len(select_random(dataset, 0.33, seed=7, return_ids=True)) == 13


def test_a_map_is_never_applied_by_position_without_labels_to_check(dataset):
    data_map = data_map_for()  # keyed by row position, recorded on the fixture's rows
    other = Dataset.from_dict({"text": [f"another sentence {i}" for i in range(N)]})  # same length, no labels
    for select in (lambda data: select_by_region(data, data_map, "ambiguous", fraction=0.33),
                   lambda data: select_by_score(data, data_map.scores("aum"), fraction=0.5, data_map=data_map),
                   lambda data: data_map.dataset_rows(data)):
        with pytest.raises(ValueError, match=r"no label column to check.*columns: \['text'\].*'label'.*id_column="):
            select(other)
    # the dataset the map was recorded on, with its labels, is checked and matched
    assert len(select_by_region(dataset, data_map, "ambiguous", fraction=0.33)) == 13
    # labels in a column of another name are not guessed: the error names the column to pass
    renamed = dataset.rename_column("label", "sentiment")
    with pytest.raises(ValueError, match=r"no label column to check.*'sentiment'"):
        select_by_region(renamed, data_map, "ambiguous", fraction=0.33)
    assert len(select_by_region(renamed.rename_column("sentiment", "label"), data_map, "ambiguous",
                                fraction=0.33)) == 13
