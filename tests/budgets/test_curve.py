import numpy as np
import pandas as pd
import pytest
from datasets import Dataset
from synthetic import synthetic_sentiment

from greennlp.budgets import BudgetCurve
from greennlp.datamaps import DataMap
from greennlp.encoders import load_encoder, tokenize_dataset

ARGS = dict(num_train_epochs=1, per_device_train_batch_size=32, per_device_eval_batch_size=64, learning_rate=2e-3,
            bf16=False, train_sampling_strategy="random")


@pytest.fixture()
def task(tiny_tokenizer):
    train = tokenize_dataset(Dataset.from_dict(synthetic_sentiment(120, seed=5)), tiny_tokenizer)
    dev = tokenize_dataset(Dataset.from_dict(synthetic_sentiment(40, seed=6)), tiny_tokenizer)
    rng = np.random.default_rng(0)
    p_gold = rng.uniform(size=(len(train), 3))
    data_map = DataMap.from_arrays(p_gold, p_gold > 0.5, 2 * p_gold - 1, np.asarray(train["labels"]))
    return train, {"dev": dev}, data_map


def first_tenth_of_rows(dataset, fraction, seed):
    """A user selector: the first rows (ignores the seed)."""
    return dataset.select(range(int(round(fraction * len(dataset)))))


def make_curve(task, tokenizer, output_dir, model_init, **kwargs):
    train, evals, data_map = task
    settings = dict(strategies=["random", "ambiguous", first_tenth_of_rows], fractions=(0.5, 1.0), seeds=(0,),
                    data_map=data_map, tokenizer=tokenizer, training_args=ARGS, flop_steps=1, use_codecarbon=False)
    settings.update(kwargs)
    return BudgetCurve(model_init, train, evals, output_dir, **settings)


def test_runs_records_and_resumes_without_recomputation(task, tiny_tokenizer, tmp_path):
    calls = []

    def model_init():
        calls.append(1)
        return load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer)

    results = make_curve(task, tiny_tokenizer, tmp_path, model_init).run()
    assert len(results) == 4  # three strategies at 0.5, one shared run at 1.0
    assert len(calls) % 4 == 0  # Trainer(model_init=...) calls model_init the same number of times per run
    calls_per_run = len(calls) // 4
    assert sorted(results["strategy"]) == ["ambiguous", "first_tenth_of_rows", "full", "random"]
    assert set(results.loc[results["fraction"] == 0.5, "n_train"]) == {60}
    assert results.loc[results["strategy"] == "full", "n_train"].item() == 120
    assert results["accuracy_dev"].between(0, 1).all() and (results["train_flops"] > 0).all()
    # the larger subset costs more compute
    full_flops = results.loc[results["strategy"] == "full", "train_flops"].item()
    assert (results.loc[results["fraction"] == 0.5, "train_flops"] < full_flops).all()
    assert (tmp_path / "budget_curve.parquet").is_file()
    assert (tmp_path / "runs" / "random-0.5-seed0" / "price_tag.json").is_file()

    def must_not_train():
        raise AssertionError("a finished run was trained again")

    again = make_curve(task, tiny_tokenizer, tmp_path, must_not_train).run()
    pd.testing.assert_frame_equal(again, results)

    # a larger plan trains only the new runs
    calls.clear()
    grown = make_curve(task, tiny_tokenizer, tmp_path, model_init, strategies=["random"], fractions=(0.25, 0.5, 1.0)).run()
    assert len(calls) == calls_per_run and len(grown) == 5
    pd.testing.assert_frame_equal(grown.iloc[:4], results)
    assert grown.loc[grown["fraction"] == 0.25, "strategy"].tolist() == ["random"]

    curve = make_curve(task, tiny_tokenizer, tmp_path, model_init)
    summary = curve.summary()
    assert {"strategy", "fraction", "accuracy_dev_mean", "accuracy_dev_std", "train_flops_mean", "runs"} <= set(summary)
    figure = curve.plot(tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    # every strategy's line ends at the shared fraction-1.0 run
    assert all(line.get_xdata()[-1] == 1.0 for line in figure.axes[0].get_lines() if len(line.get_xdata()))


def test_bad_configuration_gives_clear_errors(task, tiny_tokenizer, tmp_path):
    def model_init():
        raise AssertionError("must fail before training")

    with pytest.raises(ValueError, match=r"Unknown strategy 'ambigous'; choose from \['random', 'ambiguous'"):
        make_curve(task, tiny_tokenizer, tmp_path, model_init, strategies=["random", "ambigous"]).run()
    with pytest.raises(ValueError, match="selects a data-map region: pass data_map="):
        make_curve(task, tiny_tokenizer, tmp_path, model_init, data_map=None, strategies=["hard"]).run()
    with pytest.raises(ValueError, match=r"fractions must be in \(0, 1\]"):
        make_curve(task, tiny_tokenizer, tmp_path, model_init, fractions=(0.5, 1.5)).run()
    with pytest.raises(ValueError, match="reserved"):
        make_curve(task, tiny_tokenizer, tmp_path, model_init, strategies={"full": "random"}).run()
    with pytest.raises(ValueError, match="No finished runs"):
        make_curve(task, tiny_tokenizer, tmp_path, model_init).summary()
    assert not (tmp_path / "budget_curve.parquet").exists()
