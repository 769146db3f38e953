"""Cheaper maps and time series: trajectories, trajectory-cluster selection (S2L), probe maps, extended maps."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from datamap_fixtures import make_trainer, one_layer_model, tiny_dataset

from greennlp.datamaps import DataMap, DataMapCallback
from greennlp.datamaps.cheap import balanced_draw, nearest_neighbours
from greennlp.filters import select_by_region


def grouped_map(sizes=(60, 25, 10, 5), steps=4, seed=0, **kwargs) -> tuple[DataMap, np.ndarray]:
    """A map whose examples fall into well-separated trajectory groups of the given sizes; returns the group of
    each example too."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(len(sizes)), sizes)
    centres = np.linspace(0.05, 0.95, len(sizes))
    p_gold = np.clip(centres[group][:, None] + rng.normal(0, 0.005, (len(group), steps)), 0.001, 0.999)
    data_map = DataMap.from_arrays(p_gold, p_gold > 0.5, 2 * p_gold - 1, np.zeros(len(group), dtype=int), **kwargs)
    return data_map, group


def test_trajectories_are_the_records_in_time_order_with_nan_where_not_recorded():
    p_gold = np.array([[0.5, 0.8, np.nan], [0.25, np.nan, 0.9]])
    margin = np.array([[0.0, 1.4, 0.0], [-1.1, 0.0, 2.2]])
    data_map = DataMap.from_arrays(p_gold, p_gold > 0.5, margin, [0, 1], ids=["a", "b"])
    trajectories = data_map.trajectories()
    assert trajectories.index.tolist() == ["a", "b"] and trajectories.index.name == "id"
    assert trajectories.columns.names == ["epoch", "snapshot"] and trajectories.shape == (2, 3)
    np.testing.assert_array_equal(trajectories.to_numpy(), p_gold)
    np.testing.assert_allclose(data_map.trajectories("loss").to_numpy(), -np.log(p_gold))
    margins = data_map.trajectories("margin").to_numpy()
    np.testing.assert_array_equal(np.isnan(margins), np.isnan(p_gold))
    assert margins[1, 2] == 2.2
    with pytest.raises(ValueError, match="choose one of"):
        data_map.trajectories("accuracy")
    with pytest.raises(ValueError, match="no per-epoch records"):
        DataMap(data_map.table).trajectories()


def test_trajectories_of_a_recorded_map_have_one_column_per_snapshot(tiny_tokenizer, tmp_path):
    dataset = tiny_dataset(tiny_tokenizer, n=24)
    callback = DataMapCallback(tmp_path / "map", mode="eval", snapshots_per_epoch=2)
    make_trainer(one_layer_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "run", [callback],
                 learning_rate=1e-3).train()
    data_map = DataMap.load(tmp_path / "map")
    trajectories = data_map.trajectories()
    assert trajectories.columns.tolist() == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert not trajectories.isna().any().any()
    np.testing.assert_allclose(trajectories.mean(axis=1), data_map.table["confidence"])
    np.testing.assert_allclose(trajectories.std(axis=1, ddof=0), data_map.table["variability"], atol=1e-9)


def test_trajectory_selection_is_exact_seeded_and_balanced_across_clusters():
    data_map, group = grouped_map()
    chosen = data_map.select_trajectories(fraction=0.2, clusters=4, seed=0)
    assert len(chosen) == 20 and not pd.Index(chosen).has_duplicates
    counts = np.bincount(group[np.asarray(chosen)], minlength=4)
    # smallest cluster first: 5 (all of it), then 5 from each of the others
    assert counts.tolist() == [5, 5, 5, 5]
    assert list(data_map.select_trajectories(fraction=0.2, clusters=4, seed=0)) == list(chosen)
    draws = {tuple(sorted(data_map.select_trajectories(fraction=0.2, clusters=4, seed=s))) for s in range(4)}
    assert len(draws) > 1
    # a group smaller than its share gives all it has and the rest goes to the larger ones: of 50, the 5 and the
    # 10 give all (shares 12 and 15), then 17 of the 25 (share 35 // 2) and 18 of the 60
    counts = np.bincount(group[np.asarray(data_map.select_trajectories(fraction=0.5, clusters=4))], minlength=4)
    assert counts.tolist() == [18, 17, 10, 5]
    for fraction in (0.01, 0.33, 1.0):
        assert len(data_map.select_trajectories(fraction=fraction, clusters=3, kind="p_gold")) == round(fraction * 100)


def test_trajectory_selection_skips_unrecorded_examples_and_names_bad_settings():
    p_gold = np.random.default_rng(0).uniform(0.1, 0.9, (10, 3))
    p_gold[:4] = np.nan  # never recorded
    p_gold[5, 1] = np.nan  # one missing time point: filled with that time point's mean
    data_map = DataMap.from_arrays(p_gold, p_gold > 0.5, np.zeros((10, 3)), np.zeros(10, dtype=int))
    chosen = data_map.select_trajectories(fraction=0.6, clusters=2)
    assert sorted(chosen) == list(range(4, 10))
    with pytest.raises(ValueError, match="only 6 of the 10 were ever recorded"):
        data_map.select_trajectories(fraction=0.7)
    for clusters in (0, 2.5, True):
        with pytest.raises(ValueError, match="clusters"):
            data_map.select_trajectories(fraction=0.3, clusters=clusters)
    with pytest.raises(ValueError, match="fraction"):
        data_map.select_trajectories(fraction=0)


def test_balanced_draw_and_nearest_neighbours():
    groups = [np.arange(3), np.arange(3, 50)]
    chosen = balanced_draw(groups, 10, np.random.default_rng(1))
    assert len(chosen) == 10 and np.isin(groups[0], chosen).all()
    with pytest.raises(ValueError, match="asked for 60"):
        balanced_draw(groups, 60, np.random.default_rng(1))
    keys = np.random.default_rng(0).normal(size=(50, 4))
    nearest = nearest_neighbours(keys[:7], keys, 3, chunk=2)
    assert nearest.shape == (7, 3) and (nearest[:, 0] == np.arange(7)).all()  # each key is its own nearest
    unit = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    brute = np.argsort(-(unit[:7] @ unit.T), axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(nearest, brute)


def separable_embeddings(n=240, dim=6, seed=0, flip=0.1):
    rng = np.random.default_rng(seed)
    clean = rng.integers(0, 2, n)
    embeddings = rng.normal(0, 0.6, (n, dim)) + np.where(clean[:, None] == 1, 1.0, -1.0)
    labels = clean.copy()
    flipped = rng.permutation(n)[: int(flip * n)]
    labels[flipped] = 1 - labels[flipped]
    return embeddings, labels, flipped


def test_probe_map_is_an_ordinary_data_map_with_its_time_points():
    embeddings, labels, flipped = separable_embeddings()
    ids = np.asarray([f"ex-{i}" for i in range(len(labels))])
    probe_map = DataMap.from_probe(embeddings, labels, epochs=4, snapshots_per_epoch=3, learning_rate=3e-2,
                                   batch_size=16, ids=ids, id_column="guid")
    assert len(probe_map) == 240 and probe_map.id_column == "guid"
    assert probe_map.trajectories().shape == (240, 12) and probe_map.metadata["mode"] == "probe"
    assert (probe_map.table["observations"] == 12).all()
    assert set(probe_map.table["region"].dropna()) == {"ambiguous", "easy-to-learn", "hard-to-learn"}
    assert len(probe_map._select("ambiguous", fraction=0.33)) == 79
    suspects = probe_map.label_errors(by="confidence", count=len(flipped))
    assert len(set(suspects.index) & set(ids[flipped])) >= 0.8 * len(flipped)  # separable: flips stand out
    # a dataset with the id column: selection works as with any map
    from datasets import Dataset

    dataset = Dataset.from_dict({"guid": ids.tolist(), "label": labels.tolist()})
    assert len(select_by_region(dataset, probe_map, "ambiguous", fraction=0.33)) == 79
    again = DataMap.from_probe(embeddings, labels, epochs=4, snapshots_per_epoch=3, learning_rate=3e-2,
                               batch_size=16, ids=ids, id_column="guid")
    pd.testing.assert_frame_equal(again.table, probe_map.table)
    other = DataMap.from_probe(embeddings, labels, epochs=4, snapshots_per_epoch=3, learning_rate=3e-2,
                               batch_size=16, seed=1)
    assert not np.allclose(other.table["confidence"], probe_map.table["confidence"])


@pytest.mark.parametrize("kwargs, match", [
    ({"embeddings": np.zeros((5, 0, 2))}, "shape"),
    ({"labels": [0, 1, 0]}, "one class id per embedding"),
    ({"labels": ["a", "b", "a", "b", "a"]}, "class ids"),
    ({"epochs": 0}, "epochs"),
    ({"snapshots_per_epoch": 2.5}, "snapshots_per_epoch"),
    ({"snapshots_per_epoch": 9}, "more than the"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"embeddings": np.full((5, 2), np.nan)}, "NaN"),
])
def test_probe_map_names_bad_input(kwargs, match):
    settings = {"embeddings": np.ones((5, 2)), "labels": [0, 1, 0, 1, 0], "batch_size": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        DataMap.from_probe(settings.pop("embeddings"), settings.pop("labels"), **settings)


def test_extended_map_keeps_mapped_rows_and_gives_the_rest_their_neighbours_mean():
    rng = np.random.default_rng(0)
    embeddings = np.vstack([rng.normal(0, 0.05, (20, 3)) + [1, 0, 0], rng.normal(0, 0.05, (20, 3)) + [0, 1, 0]])
    gold = np.repeat([0, 1], 20)
    gold[25] = 0  # labelled against its neighbours
    rows = np.r_[0:10, 20:25, 26:30]  # mapped: half of each group (not 25)
    p_gold = np.where(np.arange(len(rows))[:, None] < 10, 0.9, 0.8) * np.ones((len(rows), 3))
    p_gold[0, 2] = np.nan
    sample_map = DataMap.from_arrays(p_gold, np.ones_like(p_gold, dtype=bool), np.ones_like(p_gold), gold[rows])
    ids = [f"r{i}" for i in range(40)]
    whole = sample_map.extend(embeddings, gold, rows=rows, neighbours=3, ids=ids)
    assert len(whole) == 40 and whole.table.index.tolist() == ids and whole.metadata["mode"] == "extended"
    trajectories = whole.trajectories()
    np.testing.assert_array_equal(trajectories.iloc[rows].to_numpy(), p_gold)  # mapped rows keep their records
    assert np.allclose(trajectories.iloc[10:20].to_numpy(), 0.9)  # unseen rows of group 0: their neighbours' mean
    assert np.allclose(trajectories.iloc[30:40].to_numpy(), 0.8)
    assert np.allclose(trajectories.loc["r25"], 0.2)  # its neighbours say 1 with 0.8: p(its gold 0) = 0.2
    assert whole.table.loc["r25", "correctness"] == 0 and whole.table.loc["r25", "aum"] < 0
    assert whole.label_errors(by="confidence", count=1).index.tolist() == ["r25"]
    assert len(whole._select("ambiguous", fraction=0.33)) == 13
    by_position = sample_map.extend(embeddings, gold, rows=rows, neighbours=3)
    assert by_position.id_column is None and len(by_position) == 40


def test_extend_refuses_rows_that_do_not_match_the_map():
    data_map = DataMap.from_arrays(np.full((3, 2), 0.7), np.ones((3, 2), bool), np.ones((3, 2)), [0, 1, 0])
    embeddings, gold = np.eye(5), np.array([0, 1, 0, 1, 1])
    with pytest.raises(ValueError, match="gold label"):
        data_map.extend(embeddings, gold, rows=[0, 1, 3])
    with pytest.raises(ValueError, match="distinct"):
        data_map.extend(embeddings, gold, rows=[0, 1, 0])
    with pytest.raises(ValueError, match="in \\[0, 5\\)"):
        data_map.extend(embeddings, gold, rows=[0, 1, 7])
    with pytest.raises(ValueError, match="each of the map's 3"):
        data_map.extend(embeddings, gold, rows=[0, 1])
    with pytest.raises(ValueError, match="neighbours"):
        data_map.extend(embeddings, gold, rows=[0, 1, 2], neighbours=0)
    multiclass = DataMap.from_arrays(np.full((3, 2), 0.7), np.ones((3, 2), bool), np.ones((3, 2)), [0, 2, 0],
                                     metadata={"num_labels": 3})
    with pytest.raises(ValueError, match="store_probabilities"):
        multiclass.extend(embeddings, np.array([0, 2, 0, 1, 1]), rows=[0, 1, 2])
