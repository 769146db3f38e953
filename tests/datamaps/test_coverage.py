"""Coverage-centric selection (CCS) and mixed-region selection: exact counts, the rules, reproducibility, errors."""
import numpy as np
import pytest
from datasets import Dataset

from greennlp.datamaps import DataMap
from greennlp.datamaps.coverage import coverage_positions
from greennlp.filters import select_by_region


def random_map(n=300, epochs=4, seed=0) -> DataMap:
    rng = np.random.default_rng(seed)
    return DataMap.from_logits(rng.normal(size=(n, epochs, 2)), rng.integers(0, 2, n))


def test_coverage_drops_the_hardest_and_fills_strata_evenly():
    scores = np.random.default_rng(0).uniform(-3, 3, size=1000)
    chosen = coverage_positions(scores, 0.2, prune_hardest=0.1, strata=5, seed=1)
    assert len(chosen) == 200 and len(set(chosen)) == 200
    cutoff = np.sort(scores)[100]
    assert scores[chosen].min() >= cutoff  # none of the hardest 10%
    counts, _ = np.histogram(scores[chosen], bins=5, range=(cutoff, scores.max()))
    assert counts.tolist() == [40] * 5  # uniform scores: every stratum holds more than its share
    assert np.array_equal(chosen, coverage_positions(scores, 0.2, prune_hardest=0.1, strata=5, seed=1))
    assert not np.array_equal(np.sort(chosen), np.sort(coverage_positions(scores, 0.2, prune_hardest=0.1,
                                                                           strata=5, seed=2)))


def test_coverage_gives_small_strata_all_they_have_and_the_rest_to_larger_ones():
    # 5 easy outliers in the top stratum, 995 examples in the bottom one
    scores = np.concatenate([np.zeros(995), np.full(5, 10.0)])
    chosen = coverage_positions(scores, 0.1, prune_hardest=0.0, strata=2, seed=0)
    assert len(chosen) == 100
    assert (scores[chosen] == 10.0).sum() == 5  # the small stratum is covered whole
    # NaN scores (examples without a record) are never chosen
    with_nan = np.concatenate([scores, np.full(10, np.nan)])
    assert not np.isnan(with_nan[coverage_positions(with_nan, 0.1, strata=2)]).any()


def test_coverage_errors_name_the_problem():
    scores = np.arange(10.0)
    with pytest.raises(ValueError, match="prune_hardest"):
        coverage_positions(scores, 0.5, prune_hardest=1.0)
    with pytest.raises(ValueError, match="strata"):
        coverage_positions(scores, 0.5, strata=0)
    with pytest.raises(ValueError, match="remain after dropping the hardest"):
        coverage_positions(scores, 0.95, prune_hardest=0.2)


def test_data_map_select_coverage_ranks_by_aum_and_refuses_other_columns():
    data_map = random_map()
    ids = data_map.select_coverage(fraction=0.33, prune_hardest=0.1, strata=10, seed=0)
    assert len(ids) == 99 and ids.is_unique
    aum = data_map.table["aum"]
    assert aum.loc[ids].min() >= aum.sort_values().iloc[30]  # the 30 lowest-AUM examples are dropped
    by_confidence = data_map.select_coverage(fraction=0.33, by="confidence", seed=0)
    assert len(by_confidence) == 99
    with pytest.raises(ValueError, match="higher is easier"):
        data_map.select_coverage(fraction=0.33, by="variability")


def test_mixed_selection_takes_the_share_at_random_from_the_other_region():
    data_map = random_map()
    table = data_map.table
    ids = data_map._select("ambiguous", fraction=0.33, mix={"easy": 0.25}, seed=0)
    assert len(ids) == 99 and ids.is_unique
    regions = table.loc[ids, "region"].value_counts()
    assert regions["easy-to-learn"] == 25 and regions["ambiguous"] == 74
    ambiguous = ids[table.loc[ids, "region"].to_numpy() == "ambiguous"]
    assert set(ambiguous) == set(data_map._select("ambiguous", fraction=74 / 300))  # the most variable ones
    assert list(ids) == list(data_map._select("ambiguous", fraction=0.33, mix={"easy": 0.25}, seed=0))
    # no share: the plain region selection
    assert list(data_map._select("ambiguous", fraction=0.33, mix={})) == list(data_map._select("ambiguous",
                                                                                                fraction=0.33))


def test_mixed_selection_through_select_by_region_and_its_errors():
    data_map = random_map(n=40)
    dataset = Dataset.from_dict({"text": [f"t{i}" for i in range(40)],
                                 "label": data_map.table["gold"].astype(int).tolist()})
    subset = select_by_region(dataset, data_map, "ambiguous", fraction=0.5, mix={"hard": 0.2}, seed=3)
    assert len(subset) == 20
    with pytest.raises(ValueError, match="fraction"):
        data_map._select("ambiguous", mix={"easy": 0.25})
    with pytest.raises(ValueError, match="threshold"):
        data_map._select("ambiguous", threshold=0.1, mix={"easy": 0.25})
    with pytest.raises(ValueError, match="other regions"):
        data_map._select("ambiguous", fraction=0.3, mix={"ambiguous": 0.5})
    with pytest.raises(ValueError, match="other regions"):
        data_map._select("ambiguous", fraction=0.3, mix={"easy": 0.7, "hard": 0.7})
    with pytest.raises(ValueError, match="Unknown region"):
        data_map._select("ambiguous", fraction=0.3, mix={"medium": 0.2})
    with pytest.raises(ValueError, match="the map has"):
        data_map._select("ambiguous", fraction=1.0, mix={"hard": 1.0})


@pytest.mark.parametrize("strata", [float("nan"), 2.5, 0, True, "10"])
def test_select_coverage_refuses_strata_that_are_not_a_positive_whole_number(strata):
    with pytest.raises(ValueError, match=r"strata=.*a positive whole number of bins"):
        random_map(n=40).select_coverage(fraction=0.5, strata=strata)
