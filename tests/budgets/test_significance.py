"""budgets.paired_difference: paired bootstrap intervals that cover the truth, clear errors, seeds and ties."""
from __future__ import annotations

import numpy as np
import pytest

from greennlp.budgets import paired_difference


def _correctness(generator, n, accuracy_a, accuracy_b, seeds=1, seed_spread=0.0):
    """0/1 correctness of two methods on the same ``n`` examples (each with its own difficulty), per seed."""
    difficulty = generator.uniform(-0.2, 0.2, size=n)
    rows_a, rows_b = [], []
    for _ in range(seeds):
        shift = generator.normal(0, seed_spread)
        rows_a.append(generator.random(n) < accuracy_a + difficulty + shift / 2)
        rows_b.append(generator.random(n) < accuracy_b + difficulty - shift / 2)
    return np.array(rows_a, float), np.array(rows_b, float)


def test_one_seed_interval_covers_the_true_difference_in_at_least_90_percent_of_200_simulations():
    generator = np.random.default_rng(7)
    covered = 0
    for trial in range(200):
        a, b = _correctness(generator, 300, 0.75, 0.72)
        result = paired_difference(a[0], b[0], n_resamples=500, seed=trial)
        covered += result.low <= 0.03 <= result.high
    assert covered / 200 >= 0.90


def test_several_seeds_with_seed_variation_cover_the_true_difference():
    generator = np.random.default_rng(8)
    covered = 0
    for trial in range(200):
        a, b = _correctness(generator, 200, 0.75, 0.73, seeds=3, seed_spread=0.02)
        result = paired_difference(a, b, seeds=[0, 1, 2], n_resamples=500, seed=trial)
        covered += result.low <= 0.02 <= result.high
    assert covered / 200 >= 0.90


def test_a_clear_difference_is_ahead_and_its_reverse_behind():
    generator = np.random.default_rng(0)
    a, b = _correctness(generator, 1000, 0.85, 0.70, seeds=3, seed_spread=0.005)
    ahead = paired_difference(a, b, seeds=[0, 1, 2])
    assert ahead.verdict == "ahead" and ahead.low > 0 and ahead.p_value < 0.01 and ahead.seeds_ahead == 3
    behind = paired_difference(b, a, seeds=[0, 1, 2])
    assert behind.verdict == "behind" and behind.high < 0 and behind.seeds_ahead == 0
    assert behind.mean == pytest.approx(-ahead.mean)
    assert "ahead in 3/3 seeds" in str(ahead)


def test_no_difference_is_level_and_ties_give_a_zero_interval():
    generator = np.random.default_rng(1)
    a, b = _correctness(generator, 500, 0.8, 0.8)
    assert paired_difference(a[0], b[0]).verdict == "level"
    tie = paired_difference(a[0], a[0])
    assert (tie.mean, tie.low, tie.high, tie.p_value, tie.seeds_ahead) == (0, 0, 0, 1, 0)
    tied_seeds = paired_difference(a.repeat(2, 0), a.repeat(2, 0), seeds=[0, 1])
    assert (tied_seeds.low, tied_seeds.high, tied_seeds.verdict) == (0, 0, "level")


def test_same_inputs_same_interval_and_seed_rows_pair_by_label():
    generator = np.random.default_rng(2)
    a, b = _correctness(generator, 200, 0.8, 0.75, seeds=3, seed_spread=0.01)
    first = paired_difference(a, b, seeds=[0, 1, 2], seed=5)
    assert paired_difference(a, b, seeds=[0, 1, 2], seed=5) == first
    as_mappings = paired_difference({s: a[s] for s in (2, 0, 1)}, {s: b[s] for s in (0, 1, 2)}, seed=5)
    assert as_mappings.mean == pytest.approx(first.mean) and as_mappings.seeds == 3


def test_one_score_per_seed_gives_an_interval_over_seeds_only():
    # differences of +5, +4 and +1 points: ahead in every seed, but 3 seeds cannot tell it from no difference
    spread = paired_difference([[0.85], [0.86], [0.84]], [[0.80], [0.82], [0.83]], seeds=[0, 1, 2])
    assert spread.mean == pytest.approx(0.0333, abs=1e-3) and spread.seeds_ahead == 3 and spread.examples == 1
    assert spread.verdict == "level" and spread.low < 0 < spread.high
    steady = paired_difference([[0.83], [0.841], [0.829]], [[0.80], [0.81], [0.80]], seeds=[0, 1, 2])
    assert steady.verdict == "ahead" and 0 < steady.low < steady.mean < steady.high


@pytest.mark.parametrize(("a", "b", "kwargs", "message"), [
    ([[1, 0], [0, 1], [1, 1]], [[1, 0], [0, 1]], {"seeds": [0, 1, 2]}, "b has 2 seed rows"),
    ({0: [1, 0], 1: [1, 1]}, {0: [1, 0], 2: [0, 1]}, {}, r"seeds \[1, 2\] appear in only one"),
    ([1, 0, 1], [1, 0], {}, "same seeds and examples"),
    ([[1, 0], [0, 1]], [[1, 0], [0, 1]], {}, "pass seeds="),
    ([1, 0, np.nan], [1, 0, 1], {}, "finite"),
    ([], [], {}, "empty"),
    ([1, 0], [1, 1], {"confidence": 95}, "confidence must lie in"),
    ([1, 0], [1, 1], {"n_resamples": 10}, "at least 100"),
    ([[1, 0], [0, 1]], [[1, 0], [0, 1]], {"seeds": [0, 0]}, "distinct"),
    ([1], [0], {}, "one seed with one score"),
    ({0: [1, 0], 1: [1]}, {0: [1, 0], 1: [1]}, {}, "different numbers of examples"),
])
def test_bad_input_is_refused_with_a_message_that_names_the_problem(a, b, kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_difference(a, b, **kwargs)
