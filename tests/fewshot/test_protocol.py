import numpy as np
import pandas as pd
import pytest

from greennlp.fewshot import LinearProbe, PrototypeClassifier, run_benchmark, summarize_benchmark
from greennlp.fewshot.protocol import RUN_COLUMNS


def test_benchmark_table_files_and_summary(tiny_bert_path, tiny_train, tiny_test, tmp_path):
    methods = {"probe": LinearProbe(tiny_bert_path, C=0.5), "prototype": PrototypeClassifier(tiny_bert_path)}
    runs = run_benchmark(methods, tiny_train, k_values=(2, 4), seeds=[0, 1], eval_dataset=tiny_test,
                         output_dir=tmp_path, dataset_name="toy", flops_sample=4)
    assert list(runs.columns) == RUN_COLUMNS
    assert len(runs) == 2 * 2 * 2
    assert runs["accuracy"].between(0, 1).all() and (runs["n_eval"] == len(tiny_test)).all()
    assert runs.set_index(["method", "k", "seed"])["n_train"].xs("probe").tolist() == [4, 4, 8, 8]
    assert (runs["train_seconds"] > 0).all() and (runs["inference_seconds_per_1k"] > 0).all()
    # FLOPs for the first seed of each K only; the frozen-encoder methods still spend FLOPs embedding
    first_seed = runs["seed"] == 0
    assert (runs.loc[first_seed, "train_flops"] > 0).all() and runs.loc[~first_seed, "train_flops"].isna().all()
    assert (runs.loc[first_seed, "inference_flops_per_1k"] > 0).all()
    assert runs.loc[runs["method"] == "prototype", "trainable_parameters"].eq(0).all()

    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "runs.parquet"), runs)
    summary = summarize_benchmark(runs)
    stored = pd.read_parquet(tmp_path / "summary.parquet").set_index(["dataset", "method", "k"])
    pd.testing.assert_frame_equal(stored, summary)
    one = runs[(runs["method"] == "probe") & (runs["k"] == 2)]["accuracy"]
    assert summary.loc[("toy", "probe", 2), "accuracy_mean"] == pytest.approx(one.mean())
    assert summary.loc[("toy", "probe", 2), "accuracy_std"] == pytest.approx(np.std(one))
    assert (tmp_path / "accuracy_vs_k.png").stat().st_size > 1000
    files = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))  # lock files are hidden
    assert files == ["accuracy_vs_k.png", "runs.parquet", "summary.parquet"]


def test_same_seeds_same_accuracies(tiny_bert_path, tiny_train, tiny_test):
    methods = {"probe": LinearProbe(tiny_bert_path)}
    first = run_benchmark(methods, tiny_train, k_values=(3,), seeds=2, eval_dataset=tiny_test, count_flops=False)
    second = run_benchmark(methods, tiny_train, k_values=(3,), seeds=2, eval_dataset=tiny_test, count_flops=False)
    assert first["accuracy"].tolist() == second["accuracy"].tolist()


def test_each_run_gets_a_clone_with_the_data_seed(tiny_bert_path, tiny_train, tiny_test, monkeypatch):
    import greennlp.fewshot.protocol as protocol

    fitted = []
    original = protocol._one_run
    monkeypatch.setattr(protocol, "_one_run", lambda template, *args: fitted.append(template) or original(template, *args))
    method = PrototypeClassifier(tiny_bert_path, adapter=True, temperature=0.1, num_epochs=2, seed=0)
    run_benchmark({"adapter": method}, tiny_train, k_values=(2,), seeds=[7], eval_dataset=tiny_test,
                  count_flops=False, progress=False)
    assert fitted == [method] and not hasattr(method, "classes_")  # the given method is a template, never fitted
    copy = protocol._fresh(method, 7)
    assert copy.seed == 7 and copy.adapter is True and copy.temperature == 0.1 and not hasattr(copy, "classes_")


def test_benchmark_errors(tiny_bert_path, tiny_train):
    with pytest.raises(TypeError, match="few-shot classifiers"):
        run_benchmark({"lr": object()}, tiny_train, eval_dataset=tiny_train)
    with pytest.raises(ValueError, match="different"):
        run_benchmark({"a": LinearProbe(tiny_bert_path), "b": LinearProbe(tiny_bert_path, text_column="x")},
                      tiny_train, eval_dataset=tiny_train)
    with pytest.raises(ValueError, match="needs eval_dataset="):
        run_benchmark({"probe": LinearProbe(tiny_bert_path)}, tiny_train, k_values=(2,), seeds=1)
    with pytest.raises(ValueError, match="methods is empty"):
        run_benchmark({}, tiny_train, eval_dataset=tiny_train)
    with pytest.raises(ValueError, match="fewer"):
        run_benchmark({"probe": LinearProbe(tiny_bert_path)}, tiny_train, k_values=(100,), seeds=1,
                      eval_dataset=tiny_train)


def test_resume_runs_only_what_is_missing(tiny_bert_path, tiny_train, tiny_test, tmp_path, monkeypatch):
    import greennlp.fewshot.protocol as protocol

    methods = {"probe": LinearProbe(tiny_bert_path)}
    first = run_benchmark(methods, tiny_train, k_values=(2,), seeds=[0], eval_dataset=tiny_test,
                          output_dir=tmp_path, dataset_name="toy", count_flops=False)
    stale = tmp_path / ".merged.parquet.k1ll3d_x.parquet"  # what a write killed mid-way leaves
    stale.write_bytes(b"PAR1 half a table")
    calls = []
    original = protocol._one_run
    monkeypatch.setattr(protocol, "_one_run", lambda *args: calls.append(args[2]) or original(*args))
    grown = run_benchmark(methods, tiny_train, k_values=(2,), seeds=[0, 1], eval_dataset=tiny_test,
                          output_dir=tmp_path, dataset_name="toy", count_flops=False)
    assert calls == [1]  # seed 0 came from runs.parquet
    assert not stale.exists()
    assert grown["seed"].tolist() == [0, 1] and grown.iloc[0]["accuracy"] == first.iloc[0]["accuracy"]
    assert len(pd.read_parquet(tmp_path / "runs.parquet")) == 2
    calls.clear()
    fresh = run_benchmark(methods, tiny_train, k_values=(2,), seeds=[1], eval_dataset=tiny_test,
                          output_dir=tmp_path, dataset_name="toy", count_flops=False, resume=False)
    assert calls == [1] and fresh["seed"].tolist() == [1]
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "runs.parquet")
    with pytest.raises(ValueError, match="not written by fewshot.run_benchmark"):
        run_benchmark(methods, tiny_train, k_values=(2,), seeds=[0], eval_dataset=tiny_test, output_dir=tmp_path)


def test_one_writer_per_output_folder(tiny_bert_path, tiny_train, tiny_test, tmp_path):
    from greennlp._files import FolderInUseError, exclusive_folder

    with exclusive_folder(tmp_path, "another benchmark"), pytest.raises(FolderInUseError, match="another process"):
        run_benchmark({"probe": LinearProbe(tiny_bert_path)}, tiny_train, k_values=(2,), seeds=[0],
                      eval_dataset=tiny_test, output_dir=tmp_path)


def test_plot_is_a_figure_outside_pyplot():
    import sys

    from matplotlib.figure import Figure

    from greennlp.fewshot.protocol import _plot_accuracy_vs_k

    runs = pd.DataFrame({"dataset": ["a", "a", "b"], "method": "probe", "k": [2, 4, 2], "seed": 0,
                         "accuracy": [0.5, 0.7, 0.6], **{c: 1.0 for c in RUN_COLUMNS[5:]}})
    figure = _plot_accuracy_vs_k(summarize_benchmark(runs))
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    if "matplotlib.pyplot" in sys.modules:  # nothing registered with pyplot, so nothing to close
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


def test_summary_of_merged_runs_writes_what_run_benchmark_writes(tmp_path):
    runs = pd.DataFrame({"dataset": ["a", "a", "b"], "method": "probe", "k": [2, 4, 2], "seed": 0,
                         "accuracy": [0.5, 0.7, 0.6], **{c: 1.0 for c in RUN_COLUMNS[5:]}})
    summary = summarize_benchmark(runs, output_dir=tmp_path)
    pd.testing.assert_frame_equal(summary, summarize_benchmark(runs))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "runs.parquet"), runs)
    stored = pd.read_parquet(tmp_path / "summary.parquet").set_index(["dataset", "method", "k"])
    pd.testing.assert_frame_equal(stored, summary)
    assert (tmp_path / "accuracy_vs_k.png").stat().st_size > 1000


def test_eval_labels_must_be_the_training_sets_class_ids(tiny_bert_path, tiny_train, tiny_test):
    """Integer training labels and string evaluation labels used to report accuracy 0.0 without a word."""
    methods = {"probe": LinearProbe(tiny_bert_path)}
    kwargs = dict(k_values=(2,), seeds=1, count_flops=False, progress=False)
    words = tiny_test.map(lambda row: {"label": "pos" if row["label"] else "neg"})
    with pytest.raises(ValueError, match=r"eval_dataset's column 'label' must hold integer class ids.*'neg', 'pos'"
                                         r".*cast_column\('label', dataset.features\['label'\]\)"):
        run_benchmark(methods, tiny_train, eval_dataset=words, **kwargs)
    shifted = tiny_test.map(lambda row: {"label": row["label"] + 1})
    with pytest.raises(ValueError, match=r"labels \[2\] that no training example has \(training labels: \[0, 1\]\)"):
        run_benchmark(methods, tiny_train, eval_dataset=shifted, **kwargs)
    with pytest.raises(ValueError, match="eval_dataset is empty"):
        run_benchmark(methods, tiny_train, eval_dataset=tiny_test.select([]), **kwargs)
