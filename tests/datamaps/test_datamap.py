"""DataMap analysis: loading, regions, exact selection, JSONL import/export, plots, label noise."""
import os

import numpy as np
import pandas as pd
import pytest
from datamap_fixtures import frozen_model, make_trainer, one_layer_model, tiny_dataset

from greennlp.datamaps import DataMap, DataMapCallback
from greennlp.datamaps.matching import ExampleIndex, fingerprint
from greennlp.datamaps.regions import count_for_fraction
from greennlp.datamaps.storage import write_cartography_jsonl


def random_map(n=30, epochs=4, classes=3, seed=0, **kwargs) -> DataMap:
    rng = np.random.default_rng(seed)
    return DataMap.from_logits(rng.normal(size=(n, epochs, classes)), rng.integers(0, classes, n), **kwargs)


def test_count_for_fraction_rounds_half_up():
    assert count_for_fraction(0.33, 10) == 3
    assert count_for_fraction(0.25, 10) == 3  # 2.5 -> 3
    assert count_for_fraction(0.35, 10) == 4  # 3.5 -> 4
    assert count_for_fraction(1.0, 7) == 7
    assert count_for_fraction(0.33, 67349) == 22225
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            count_for_fraction(bad, 10)


def test_select_regions_follow_the_paper_sort_orders_within_the_region():
    data_map = random_map(n=100)
    table = data_map.table
    ambiguous = data_map._select("ambiguous", fraction=0.33)
    assert len(ambiguous) == 33 and (table.loc[ambiguous, "region"] == "ambiguous").all()
    assert table.loc[ambiguous, "variability"].min() >= table.drop(ambiguous)["variability"].max()
    for region, name, highest in (("easy", "easy-to-learn", True), ("hard-to-learn", "hard-to-learn", False)):
        column = "confidence"
        members = table[table["region"] == name]
        chosen = data_map._select(region, fraction=0.03)
        assert len(chosen) == 3 and set(chosen) <= set(members.index)
        rest = members.drop(chosen)[column]
        assert (table.loc[chosen, column].min() >= rest.max()) if highest else (
            table.loc[chosen, column].max() <= rest.min())
    by_threshold = data_map._select("easy-to-learn", threshold=0.5)
    easy = table[table["region"] == "easy-to-learn"]
    assert set(by_threshold) == set(easy.index[easy["confidence"] >= 0.5])
    with pytest.raises(ValueError, match="Unknown region"):
        data_map._select("confusing", fraction=0.3)
    with pytest.raises(ValueError, match="at most one"):
        data_map._select("ambiguous", fraction=0.3, threshold=0.1)


def test_ties_are_broken_reproducibly_by_seed():
    data_map = DataMap.from_arrays(np.full((10, 2), 0.5), np.ones((10, 2), bool), np.zeros((10, 2)), np.zeros(10))
    assert list(data_map._select("ambiguous", fraction=0.3, seed=1)) == list(data_map._select("ambiguous", fraction=0.3, seed=1))
    picks = {tuple(data_map._select("ambiguous", fraction=0.3, seed=s)) for s in range(5)}
    assert len(picks) > 1  # ties are not always resolved towards the lowest ids


def test_region_column_partitions_the_map():
    data_map = random_map(n=60)
    counts = data_map.table["region"].value_counts()
    assert counts["ambiguous"] == 20 and counts.sum() == 60
    rest = data_map.table[data_map.table["region"] != "ambiguous"]
    assert (rest.loc[rest["region"] == "easy-to-learn", "confidence"] >= 0.5).all()


def test_cartography_jsonl_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    guids = [f"id{i}" for i in range(12)]
    logits, gold = rng.normal(size=(12, 3, 4)), rng.integers(0, 4, 12)
    for epoch in range(3):
        order = rng.permutation(12)  # cartography files need not share an order
        write_cartography_jsonl(tmp_path / "training_dynamics", epoch, [guids[i] for i in order],
                                logits[order, epoch], gold[order])
    imported = DataMap.from_cartography_jsonl(tmp_path)
    expected = DataMap.from_logits(logits, gold, ids=guids)
    pd.testing.assert_frame_equal(imported.table.sort_index().drop(columns="region"),
                                  expected.table.sort_index().drop(columns="region"), check_names=False, atol=1e-6)


def test_load_equals_from_arrays_and_export(tiny_tokenizer, tmp_path, device):
    dataset = tiny_dataset(tiny_tokenizer, n=24)
    callback = DataMapCallback(tmp_path / "map", store_probabilities=True, id_column="guid")
    make_trainer(frozen_model(tiny_tokenizer, num_labels=3), tiny_tokenizer, dataset, tmp_path / "run", [callback],
                 learning_rate=1e-2, num_train_epochs=3, keep_ids=True, use_cpu=device == "cpu").train()
    loaded = DataMap.load(tmp_path / "map")
    paths = loaded.to_cartography_jsonl(tmp_path / "export")
    assert [p.name for p in paths] == [f"dynamics_epoch_{e}.jsonl" for e in range(3)]
    reimported = DataMap.from_cartography_jsonl(tmp_path / "export")
    columns = ["confidence", "variability", "correctness", "forgetfulness", "el2n"]
    pd.testing.assert_frame_equal(loaded.table[columns], reimported.table.loc[loaded.table.index, columns],
                                  check_names=False, atol=1e-5)
    late = DataMap.load(tmp_path / "map", burn_in=1)
    assert late.metadata["epochs_used"] == [1, 2] and (late.table["observations"] == 2).all()
    assert DataMap.load(tmp_path / "map", epochs=[0]).metadata["epochs_used"] == [0]
    with pytest.raises(ValueError, match="No recorded epochs"):
        DataMap.load(tmp_path / "map", burn_in=3)
    with pytest.raises(FileNotFoundError, match="metadata.json"):
        DataMap.load(tmp_path / "nothing")


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_plot_formats(tmp_path, suffix):
    path = tmp_path / f"map{suffix}"
    random_map(n=200).plot(path)
    assert path.stat().st_size > 1000
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600


def test_plots_leave_no_global_state(tmp_path):
    import subprocess
    import sys

    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    figure = random_map(n=50).plot(tmp_path / "map.png")
    assert type(figure).__name__ == "Figure" and plt.get_fignums() == before  # not in pyplot's registry
    script = ("import sys, matplotlib; backend = matplotlib.rcParams._get_backend_or_none(); "
              "from greennlp.datamaps import plot; "
              "assert 'matplotlib.pyplot' not in sys.modules; "
              "assert matplotlib.rcParams._get_backend_or_none() == backend")
    subprocess.run([sys.executable, "-c", script], check=True)


def test_plot_density_and_bad_format(tmp_path):
    figure = random_map(n=300).plot(tmp_path / "dense.png", density=True)
    assert any(type(c).__name__ == "PolyCollection" for c in figure.axes[0].collections)
    with pytest.raises(ValueError, match="Unsupported figure format"):
        random_map().plot(tmp_path / "map.jpg")


def test_fingerprints_are_stable_and_index_matches_padding_free_rows():
    assert fingerprint(np.array([1, 2, 3])) == fingerprint(np.array([1, 2, 3], dtype=np.int32))
    assert fingerprint(np.array([1, 2, 3])) == -5405627362230748553  # same value in every process and run
    index = ExampleIndex.from_token_ids([[5, 6, 7], [5, 6], [5, 6, 7]], labels=[1, 0, 1])
    batch = np.array([[5, 6, 0], [5, 6, 7], [9, 9, 9]])
    mask = np.array([[1, 1, 0], [1, 1, 1], [1, 1, 1]])
    groups = index.lookup(batch, mask)
    assert groups.tolist() == [1, 0, -1]
    rows, kept = index.assign_rows(np.array([0, 0, 0, 1]), np.array([1, 1, 1, 0]))
    assert rows[kept].tolist() == [0, 2, 1] and kept.tolist() == [True, True, False, True]
    # gold labels of groups, for batches whose labels were popped before the forward pass
    assert index.group_label(np.array([1, 0, 0])).tolist() == [0, 1, 1]
    mixed = ExampleIndex.from_token_ids([[5, 6], [5, 6]], labels=[0, 1])
    with pytest.raises(ValueError, match="different labels"):
        mixed.group_label(np.array([0]))


def test_label_noise_is_found_among_the_least_confident(tiny_tokenizer, tmp_path):
    """15% flipped labels on a learnable task: the 15% lowest-confidence examples recall most of them."""
    dataset = tiny_dataset(tiny_tokenizer, n=400, seed=5, flip=0.15)
    callback = DataMapCallback(tmp_path / "map")
    make_trainer(one_layer_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "run", [callback],
                 learning_rate=1e-3, num_train_epochs=6, per_device_train_batch_size=16).train()
    data_map = DataMap.load(tmp_path / "map")
    suspects = data_map.scores("confidence").nsmallest(count_for_fraction(0.15, len(data_map))).index
    flipped = np.asarray(dataset["flipped"])
    recall = flipped[np.asarray(suspects)].sum() / flipped.sum()
    # Measured 0.98 with this seed (1-layer BERT, 6 epochs); MEASURED.md saw 0.71 on real news text.
    assert recall >= 0.8, f"recall of flipped labels among the 15% least confident: {recall:.2f}"
