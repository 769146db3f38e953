"""The few-shot benchmark script's method table: recipe names, label-word overrides and their errors."""
import pytest


@pytest.fixture(scope="module")
def cli(load_script):
    return load_script("fewshot_benchmark")


def test_pattern_word_overrides_parse_per_dataset(cli):
    assert cli.parse_pattern_words(["trec:2=thing", "trec:0=abbreviation", "sst2:1= good "]) == {
        "trec": {2: "thing", 0: "abbreviation"}, "sst2": {1: "good"}}
    assert cli.parse_pattern_words([]) == {}


@pytest.mark.parametrize("spec", ["trec2=thing", "imdb:1=good", "trec:x=thing", "trec:2="])
def test_bad_pattern_word_names_the_expected_form(cli, spec):
    with pytest.raises(SystemExit, match="DATASET:LABEL=WORD"):
        cli.parse_pattern_words([spec])


def test_methods_get_recipe_names_and_the_overridden_verbalizer(cli):
    methods = cli.build_methods(["head", "pattern", "pattern-zeroshot"], "enc", "mlm", "trec", 10,
                                head_options={"learning_rate": 1e-4}, pattern_options={"learning_rate": 2e-4},
                                pattern_words={2: "thing"})
    assert sorted(methods) == ["head learning_rate=0.0001", "pattern learning_rate=0.0002", "pattern-zeroshot"]
    assert methods["pattern learning_rate=0.0002"].learning_rate == 2e-4
    assert methods["pattern-zeroshot"].num_epochs == 0
    assert methods["pattern-zeroshot"].verbalizer[2] == "thing"
    assert methods["pattern-zeroshot"].verbalizer[3] == "human"  # the others stay LM-BFF's


def test_pattern_methods_need_a_masked_lm(cli):
    with pytest.raises(SystemExit, match="--pattern-model"):
        cli.build_methods(["pattern-zeroshot"], "enc", None, "sst2", 10)


def test_merged_report_keeps_the_first_copy_and_tabulates_k_by_method(cli, tmp_path):
    import pandas as pd

    def runs(method, accuracies):
        return pd.DataFrame({"dataset": "sst2", "method": method, "k": [8, 8, 16], "seed": [0, 1, 0],
                             "accuracy": accuracies, "train_seconds": 1.0, "train_cpu_seconds": 1.0,
                             "inference_seconds_per_1k": 1.0, "trainable_parameters": 10, "train_flops": float("nan"),
                             "inference_flops_per_1k": float("nan"), "n_train": 16, "n_eval": 100})

    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    runs("probe", [0.6, 0.8, 0.7]).to_parquet(first)
    pd.concat([runs("probe", [0.0, 0.0, 0.0]), runs("head", [0.5, 0.5, 0.9])]).to_parquet(second)
    merged = cli.merge_runs([str(first), str(second)])
    assert len(merged) == 6 and merged.loc[merged["method"] == "probe", "accuracy"].tolist() == [0.6, 0.8, 0.7]
    table = cli.accuracy_table(cli.summarize_benchmark(merged).reset_index(), "sst2")
    assert table.columns.tolist() == ["k", "probe", "head"]
    assert table.loc[table["k"] == 8, "probe"].item() == "70.0 ± 10.0 (2)"
    assert table.loc[table["k"] == 16, "head"].item() == "90.0 ± 0.0 (1)"
    with pytest.raises(SystemExit, match="no such file"):
        cli.merge_runs([str(tmp_path / "missing.parquet")])
