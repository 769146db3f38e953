"""The encoder benchmark's report: speed ratios are taken side by side within a round."""
import pytest


@pytest.fixture(scope="module")
def bench(load_script):
    return load_script("bench_encoders")


def row(setup, round_index, examples_per_s, accuracy=0.8):
    return {"size": "tiny", "setup": setup, "round": round_index, "examples_per_s": examples_per_s,
            "tokens_per_s": 10 * examples_per_s, "dev_accuracy": accuracy, "train_flops": 1e12}


def test_ratios_are_per_round_and_medians_summarise(bench):
    results = [row("run_glue", 0, 100), row("careful", 0, 300), row("greennlp", 0, 900, 0.79),
               row("careful", 1, 200), row("greennlp", 1, 500, 0.81)]
    text = bench.markdown(results, {})
    # summary: medians over rounds (careful 250, greennlp 700), ratios of the medians
    assert "| tiny | greennlp | 700 | 7000 | 7.00 | 2.80 | 0.790 / 0.810 | 1e+12 |" in text
    # side by side: round 0 has every baseline, round 1 only careful (run_glue ran once)
    header = next(line for line in text.splitlines() if line.startswith("| size | round |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    round0 = next(line for line in text.splitlines() if line.startswith("| tiny | 0 |"))
    round1 = next(line for line in text.splitlines() if line.startswith("| tiny | 1 |"))
    cells0 = dict(zip(columns, (c.strip() for c in round0.strip("|").split("|")), strict=True))
    cells1 = dict(zip(columns, (c.strip() for c in round1.strip("|").split("|")), strict=True))
    assert cells0["greennlp / run_glue"] == "9.00" and cells0["greennlp / careful"] == "3.00"
    assert cells1["greennlp / careful"] == "2.50" and cells1["greennlp / run_glue"] == ""
