"""The shared helpers of the SST-2 selection scripts: per-seed selectors and the mean (std) table."""
import numpy as np
import pandas as pd
import pytest
from datasets import Dataset


@pytest.fixture(scope="module")
def common(load_script):
    return load_script("filters_sst2_common")


def toy(n=40):
    return Dataset.from_dict({"text": [f"t{i}" for i in range(n)], "label": [i % 2 for i in range(n)],
                              "row": list(range(n))})


def test_selector_reads_the_scores_of_its_own_seed(common):
    data = toy()
    up, down = np.arange(40, dtype=float), -np.arange(40, dtype=float)
    sources = {0: {"prototype": up}, 1: {"prototype": down}}
    hard = common.selector("prototype hard", sources)
    assert hard.__name__ == "prototype hard"
    assert sorted(hard(data, 0.1, 0)["row"]) == [36, 37, 38, 39]  # highest of seed 0, two per class
    assert sorted(hard(data, 0.1, 1)["row"]) == [0, 1, 2, 3]      # highest of seed 1's reversed scores
    assert sorted(common.selector("prototype easy", sources)(data, 0.1, 0)["row"]) == [0, 1, 2, 3]
    with pytest.raises(KeyError):
        hard(data, 0.1, 2)  # no scores recorded for seed 2: never silently borrow another seed's


def test_random_selector_depends_on_the_seed_only(common):
    data = toy()
    select = common.selector("random", {})
    first, again, other = (list(select(data, 0.25, s)["row"]) for s in (3, 3, 4))
    assert first == again and first != other
    assert len(first) == 10 and sum(data["label"][i] for i in first) == 5  # stratified


def test_summary_is_mean_and_std_over_the_same_seeds(common):
    table = pd.DataFrame([
        {"method": "full", "fraction": 1.0, "seed": 0, "dev": 0.8},
        {"method": "full", "fraction": 1.0, "seed": 1, "dev": 0.6},
        {"method": "prototype easy", "fraction": 0.5, "seed": 1, "dev": 0.7},
        {"method": "random", "fraction": 0.5, "seed": 1, "dev": 0.5},
        {"method": "random", "fraction": 0.5, "seed": 0, "dev": 0.7},
        {"method": "prototype easy", "fraction": 0.5, "seed": 0, "dev": 0.7},
    ])
    lines = common.summary_markdown(table, ["dev"]).splitlines()
    assert lines[0] == "| fraction | method | seeds | dev |"
    assert lines[2] == "| 0.5 | random | 0,1 | .600 (.100) |"
    assert lines[3] == "|  | prototype easy | 0,1 | .700 (.000) |"
    assert lines[4] == "| 1 | full | 0,1 | .700 (.100) |"


def test_score_sources_seed_k_means(common):
    class Map:  # the two DataMap calls the helper makes
        def scores(self, name):
            return pd.Series(np.arange(40, dtype=float), name=name)

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 8))
    labels = [i % 2 for i in range(40)]
    first = common.score_sources(Map(), vectors, labels, clusters=3, seed=0)
    again = common.score_sources(Map(), vectors, labels, clusters=3, seed=0)
    assert set(first) == {"variability", "el2n", "aum", "prototype"}
    np.testing.assert_array_equal(first["prototype"], again["prototype"])
    assert first["prototype"].shape == (40,) and (first["prototype"] >= 0).all()
