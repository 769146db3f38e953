import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
from datasets import Dataset
from matplotlib.figure import Figure
from synthetic import synthetic_sentiment

from greennlp._files import FolderInUseError, exclusive_folder
from greennlp.budgets import BudgetCurve, PriceTag
from greennlp.datamaps import DataMap
from greennlp.encoders import load_encoder

ARGS = dict(num_train_epochs=1, per_device_train_batch_size=32, learning_rate=2e-3, bf16=False,
            train_sampling_strategy="random")


@pytest.fixture()
def task():
    train = Dataset.from_dict(synthetic_sentiment(120, seed=5))
    dev = Dataset.from_dict(synthetic_sentiment(40, seed=6))
    rng = np.random.default_rng(0)
    p_gold = rng.uniform(size=(len(train), 3))
    data_map = DataMap.from_arrays(p_gold, p_gold > 0.5, 2 * p_gold - 1, np.asarray(train["label"]))
    return train, {"dev": dev}, data_map


def first_tenth_of_rows(dataset, fraction, seed):
    """A user selector: the first rows (ignores the seed)."""
    return dataset.select(range(int(round(fraction * len(dataset)))))


def make_curve(task, tokenizer, output_dir, model_init, **kwargs):
    train, evals, data_map = task
    settings = dict(strategies=["random", "ambiguous", first_tenth_of_rows], fractions=(0.5, 1.0), seeds=(0,),
                    data_map=data_map, tokenizer=tokenizer, training_args=ARGS, flop_steps=1, use_codecarbon=False,
                    progress=False)
    settings.update(kwargs)
    return BudgetCurve(model_init, train, evals, output_dir, **settings)


def test_runs_records_and_resumes_without_recomputation(task, tiny_tokenizer, tmp_path, device):
    calls = []

    def model_init():
        calls.append(1)
        return load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer)

    training_args = {**ARGS, "use_cpu": device == "cpu"}
    results = make_curve(task, tiny_tokenizer, tmp_path, model_init, training_args=training_args).run()
    assert len(results) == 4 and len(calls) == 4  # three strategies at 0.5, one shared run at 1.0; one model each
    assert sorted(results["strategy"]) == ["ambiguous", "first_tenth_of_rows", "full", "random"]
    assert set(results.loc[results["fraction"] == 0.5, "n_train"]) == {60}
    assert results.loc[results["strategy"] == "full", "n_train"].item() == 120
    assert results["accuracy_dev"].between(0, 1).all() and (results["train_flops"] > 0).all()
    # cost columns carry the PriceTag field names, nothing else names the same quantity
    assert {"train_flops", "wall_time_s", "examples_seen", "tokens_seen", "energy_kwh"} <= set(results)
    assert not {"train_time_s", "run_time_s"} & set(results)
    # the larger subset costs more compute
    full_flops = results.loc[results["strategy"] == "full", "train_flops"].item()
    assert (results.loc[results["fraction"] == 0.5, "train_flops"] < full_flops).all()
    assert (tmp_path / "budget_curve.parquet").is_file()
    tag = PriceTag.load(tmp_path / "runs" / "random-0.5-seed0")
    row = results[(results["strategy"] == "random")].iloc[0]
    assert tag.metrics["accuracy_dev"] == row["accuracy_dev"] and tag.train_flops == row["train_flops"]
    assert tag.examples_seen == 60  # one epoch of the 60-example subset

    def must_not_train():
        raise AssertionError("a finished run was trained again")

    stale = tmp_path / ".budget_curve.parquet.k1ll3d_x.parquet"  # what a run killed mid-write leaves
    stale.write_bytes(b"PAR1 half a table")
    again = make_curve(task, tiny_tokenizer, tmp_path, must_not_train, training_args=training_args).run()
    pd.testing.assert_frame_equal(again, results)
    assert not stale.exists()

    # a larger plan trains only the new runs
    calls.clear()
    grown = make_curve(task, tiny_tokenizer, tmp_path, model_init, strategies=["random"], fractions=(0.25, 0.5, 1.0),
                       training_args=training_args).run()
    assert len(calls) == 1 and len(grown) == 5
    pd.testing.assert_frame_equal(grown.iloc[:4], results)
    assert grown.loc[grown["fraction"] == 0.25, "strategy"].tolist() == ["random"]

    curve = make_curve(task, tiny_tokenizer, tmp_path, model_init, training_args=training_args)
    summary = curve.summary()
    assert {"strategy", "fraction", "accuracy_dev_mean", "accuracy_dev_std", "train_flops_mean", "wall_time_s_mean",
            "runs"} <= set(summary)
    assert (summary["accuracy_dev_std"] == 0).all()  # one seed: population std 0, not NaN
    figure = curve.plot(tmp_path / "curve.png")
    assert isinstance(figure, Figure)
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    # every strategy's line ends at the shared fraction-1.0 run
    assert all(line.get_xdata()[-1] == 1.0 for line in figure.axes[0].get_lines() if len(line.get_xdata()))


def test_model_init_runs_under_the_runs_seed(task, tiny_tokenizer, tmp_path):
    weights = []

    def model_init():
        model = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer)
        weights.append(model.classifier.weight.detach().clone())
        return model

    for folder, noise in (("a", 1), ("b", 2)):
        torch.manual_seed(noise)  # whatever the caller's RNG state, a seed gives one initialisation
        make_curve(task, tiny_tokenizer, tmp_path / folder, model_init, strategies=["random"], fractions=(1.0,),
                   training_args={**ARGS, "max_steps": 1}).run()
    assert torch.equal(weights[0], weights[1])


def test_summary_uses_population_std(task, tiny_tokenizer, tmp_path):
    results = pd.DataFrame({"strategy": ["random"] * 3, "fraction": [0.5] * 3, "seed": [0, 1, 2],
                            "n_train": [60] * 3, "accuracy_dev": [0.6, 0.7, 0.8],
                            "train_flops": [1.0, 2.0, 3.0], "wall_time_s": [1.0, 1.0, 1.0]})
    summary = make_curve(task, tiny_tokenizer, tmp_path, lambda: None).summary(results)
    assert summary["accuracy_dev_std"].item() == pytest.approx(np.std([0.6, 0.7, 0.8]))  # ddof=0
    assert summary["runs"].item() == 3


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
    for name in ("../../escaped", str(tmp_path / "elsewhere"), ".hidden", "a/b", ""):
        with pytest.raises(ValueError, match="cannot name a run folder"):
            make_curve(task, tiny_tokenizer, tmp_path, model_init, strategies={name: "random"}).run()
    with pytest.raises(ValueError, match="cannot name a run folder"):
        make_curve(task, tiny_tokenizer, tmp_path, model_init, strategies=[lambda d, f, s: d]).run()
    with pytest.raises(ValueError, match="Two strategies are named 'first_tenth_of_rows'"):
        make_curve(task, tiny_tokenizer, tmp_path, model_init, strategies=[first_tenth_of_rows, first_tenth_of_rows]).run()
    with pytest.raises(ValueError, match=r"training_args sets \['seed'\]"):
        make_curve(task, tiny_tokenizer, tmp_path, model_init, training_args={"seed": 3}).run()
    train, evals, data_map = task
    tokenized = train.map(lambda b: tiny_tokenizer(b["text"]), batched=True, remove_columns=["text"])
    with pytest.raises(ValueError, match=r"train_dataset lacks the columns \['text'\].*raw datasets"):
        BudgetCurve(model_init, tokenized, evals, tmp_path, tokenizer=tiny_tokenizer, strategies=["random"],
                    progress=False).run()
    with pytest.raises(ValueError, match="No finished runs"):
        make_curve(task, tiny_tokenizer, tmp_path, model_init).summary()
    assert not (tmp_path / "budget_curve.parquet").exists()
    assert not (tmp_path / "runs").exists()  # nothing was created outside or inside the output folder


def test_one_writer_per_output_folder(task, tiny_tokenizer, tmp_path):
    def model_init():
        raise AssertionError("must not train while another process writes the folder")

    with exclusive_folder(tmp_path, owner="another run"):
        # the lock is per open file description, so a second acquisition fails within one process too
        with pytest.raises(FolderInUseError, match="BudgetCurve: another process is writing"):
            make_curve(task, tiny_tokenizer, tmp_path, model_init, strategies=["random"]).run()


HOLD_FOLDER = """
import sys
from greennlp._files import exclusive_folder

with exclusive_folder(sys.argv[1], "another BudgetCurve"):
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_a_second_process_on_the_output_folder_fails_at_once(task, tiny_tokenizer, tmp_path):
    """Two BudgetCurve processes on one output_dir used to both finish, the table keeping one of their rows."""
    def model_init():
        raise AssertionError("must not train while another process writes the folder")

    holder = subprocess.Popen([sys.executable, "-c", HOLD_FOLDER, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        start = time.perf_counter()
        with pytest.raises(FolderInUseError, match="BudgetCurve: another process is writing into"):
            make_curve(task, tiny_tokenizer, tmp_path, model_init, strategies=["random"]).run()
        assert time.perf_counter() - start < 10  # at once, not after waiting for the lock
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "budget_curve.parquet").exists()


def test_region_strategies_on_a_one_epoch_map_are_refused_before_training(tmp_path):
    train = Dataset.from_dict({"text": ["a", "b", "c", "d"], "label": [0, 1, 0, 1]})
    one_epoch = DataMap.from_logits(np.zeros((4, 1, 2), dtype=np.float32), [0, 1, 0, 1])
    curve = BudgetCurve(lambda: None, train, {"dev": train}, tmp_path, tokenizer=None, strategies=["random", "ambiguous"],
                        fractions=[0.5], data_map=one_epoch)
    with pytest.raises(ValueError, match="no regions.*at least 2 observations"):
        curve.run()
    assert not (tmp_path / "budget_curve.parquet").exists()


# --- a table holds one configuration (reliability issue, part A) ------------------------------------------------
def test_a_changed_configuration_is_refused_or_starts_a_new_table(task, tiny_tokenizer, tmp_path):
    """A rerun with an extra eval set and num_train_epochs 2 -> 1 used to return the old rows and train nothing."""
    train, evals, data_map = task
    calls = []

    def model_init():
        calls.append(1)
        return load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer)

    def must_not_train():
        raise AssertionError("must not train: the configuration changed")

    two_epochs = {**ARGS, "num_train_epochs": 2, "max_steps": 2}
    settings = dict(strategies=["random"], fractions=(0.5,), training_args=two_epochs)
    first = make_curve(task, tiny_tokenizer, tmp_path, model_init, **settings).run()
    assert len(first) == 1
    changed = {**evals, "imdb": evals["dev"].select(range(20))}
    one_epoch = {**ARGS, "num_train_epochs": 1, "max_steps": 2}
    for change in ({"training_args": one_epoch}, {"eval_datasets": changed}, {"max_length": 64},
                   {"eval_datasets": {"dev": evals["dev"].select(range(30))}}):
        options = {**settings, **change}
        curve = BudgetCurve(must_not_train, train, options.pop("eval_datasets", evals), tmp_path, tokenizer=tiny_tokenizer,
                            data_map=data_map, flop_steps=1, use_codecarbon=False, progress=False, **options)
        with pytest.raises(ValueError, match=r"1 run .* another configuration.*resume=False"):
            curve.run()
    pd.testing.assert_frame_equal(make_curve(task, tiny_tokenizer, tmp_path, must_not_train, **settings).run(), first)
    # a grown plan (another strategy, fraction or seed) with the same configuration still resumes
    calls.clear()
    grown = make_curve(task, tiny_tokenizer, tmp_path, model_init, **{**settings, "seeds": (0, 1)}).run()
    assert len(calls) == 1 and len(grown) == 2

    # asked for, a new table: every run trains again, with a column for the new eval set
    calls.clear()
    fresh = BudgetCurve(model_init, train, changed, tmp_path, tokenizer=tiny_tokenizer, strategies=["random"],
                        fractions=(0.5,), training_args=one_epoch, flop_steps=1, use_codecarbon=False,
                        progress=False, resume=False).run()
    assert len(calls) == 1 and len(fresh) == 1 and fresh["accuracy_imdb"].notna().all()
    again = BudgetCurve(must_not_train, train, changed, tmp_path, tokenizer=tiny_tokenizer, strategies=["random"],
                        fractions=(0.5,), training_args=one_epoch, flop_steps=1, use_codecarbon=False,
                        progress=False).run()
    pd.testing.assert_frame_equal(again, fresh)


def test_a_table_without_a_stored_configuration_is_refused(task, tiny_tokenizer, tmp_path):
    old = pd.DataFrame({"strategy": ["random"], "fraction": [0.5], "seed": [0], "n_train": [60], "accuracy_dev": [0.7]})
    old.to_parquet(tmp_path / "budget_curve.parquet", index=False)  # as greennlp wrote it before it stored one

    def model_init():
        raise AssertionError("must not train")

    with pytest.raises(ValueError, match=r"no stored configuration.*resume=False"):
        make_curve(task, tiny_tokenizer, tmp_path, model_init, strategies=["random"], fractions=(0.5,)).run()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "budget_curve.parquet"), old)


def test_a_run_whose_step_fails_leaves_no_flop_counter_or_hook_behind(task, tiny_tokenizer, tmp_path):
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    models = []

    def fail_in_backward(gradient):
        raise RuntimeError("CUDA out of memory in backward (simulated)")

    def model_init():
        models.append(load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer))
        models[-1].classifier.weight.register_hook(fail_in_backward)  # outside the forward pass
        return models[-1]

    try:
        with pytest.raises(RuntimeError, match="simulated"):
            make_curve(task, tiny_tokenizer, tmp_path, model_init, strategies=["random"], fractions=(1.0,)).run()
        assert not _get_current_dispatch_mode_stack()  # the measured first step's FLOP counter is gone
        assert len(models) == 1 and "forward" not in vars(models[0])
        assert not models[0]._forward_pre_hooks and not models[0]._forward_hooks
    finally:
        while _get_current_dispatch_mode_stack():  # test cleanup: a counter left on would slow every later test
            _get_current_dispatch_mode_stack()[-1].__exit__(None, None, None)
