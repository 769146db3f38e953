"""The masking experiment's summary: steps-to-match and the spread over pretraining seeds."""
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def ev(load_script):
    return load_script("eval_pretrained")


def results():
    """Two pretraining seeds x two fine-tuning seeds; content reaches random's final mean at step 50 for seed 0."""
    rows = [("none", 0, 0, 0, 0.50), ("none", 0, 0, 1, 0.50)]
    curves = {("random", 0): {50: 0.60, 100: 0.70}, ("random", 1): {50: 0.62, 100: 0.66},
              ("content", 0): {50: 0.72, 100: 0.74}, ("content", 1): {50: 0.60, 100: 0.64}}
    for (masking, pretrain_seed), curve in curves.items():
        for step, value in curve.items():
            rows += [(masking, pretrain_seed, step, 0, value - 0.01), (masking, pretrain_seed, step, 1, value + 0.01)]
    table = pd.DataFrame(rows, columns=["masking", "pretrain_seed", "step", "finetune_seed", "accuracy"])
    return table.assign(task="sst2")


def test_steps_to_match_is_a_fraction_of_the_reference_budget(ev):
    # pooled: random ends at .68; content's pooled means are .66 (step 50) and .69 (step 100)
    assert ev.steps_to_match(results(), "sst2") == {"content": 1.0, "random": 1.0}


def test_pretraining_seed_spread_and_per_seed_steps_to_match(ev):
    lines = ev.pretraining_seed_lines(results())
    assert "| sst2 | random | 100 | 0.680 | 0.020 | 2 |" in lines  # mean of .70 and .66, population std .02
    assert "| sst2 | content | 50 | 0.660 | 0.060 | 2 |" in lines  # .72 and .60
    per_seed = [line for line in lines if "pretraining seed" in line and "steps to match" in line]
    assert per_seed == ["\nsst2, pretraining seed 0: steps to match: {'content': 0.5, 'random': 1.0}",
                        "\nsst2, pretraining seed 1: steps to match: {'content': None, 'random': 1.0}"]


def test_outputs_use_population_std_and_a_figure_without_pyplot(ev, tmp_path):
    import sys

    ev.write_outputs(results(), tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "| sst2 | none | 0 | 0.500 | 0.000 | 2 |" in summary  # two equal runs: std 0
    assert "| sst2 | random | 50 | 0.610 | 0.014 | 4 |" in summary  # .59 .61 .61 .63: population std .0141
    assert (tmp_path / "accuracy_vs_steps.png").read_bytes()[:4] == b"\x89PNG"
    assert "matplotlib.pyplot" not in sys.modules or not sys.modules["matplotlib.pyplot"].get_fignums()
