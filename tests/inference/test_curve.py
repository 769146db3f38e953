"""exit_curve: one priced row per threshold."""
from __future__ import annotations

import numpy as np

from greennlp.inference import exit_curve


def test_curve_columns_and_the_full_model_row(early_exit, tokenized):
    _, dev = tokenized
    curve = exit_curve(early_exit, dev, [0.0, 0.9, 1.0], batch_size=32)
    assert list(curve.columns) == ["threshold", "accuracy", "mean_layers", "flops_per_example", "ms_per_example",
                                   "accuracy_change", "flops_ratio", "speedup"]
    assert curve["threshold"].tolist() == [0.0, 0.9, 1.0]
    assert curve["mean_layers"].tolist()[0] == 1.0 and curve["mean_layers"].tolist()[-1] == 2.0
    assert np.all(np.diff(curve["flops_per_example"]) >= 0) and (curve["ms_per_example"] > 0).all()
    full = early_exit.predict(dev, threshold=1.0)
    assert curve["accuracy"].iloc[-1] == (full["label"].to_numpy() == np.asarray(dev["labels"])).mean()


def test_curve_refuses_a_missing_label_column_and_unlabelled_rows(early_exit, tokenized):
    import pytest

    _, dev = tokenized
    small = dev.select(range(16))
    with pytest.raises(ValueError, match=r"No label column 'gold_typo'.*label_column='labels'"):
        exit_curve(early_exit, small, [1.0], label_column="gold_typo")
    with pytest.raises(ValueError, match=r"No label column 'labels'.*label_column='label'"):
        exit_curve(early_exit, small.rename_column("labels", "label"), [1.0])
    partly = small.map(lambda row, i: {"labels": -100 if i == 5 else row["labels"]}, with_indices=True)
    with pytest.raises(ValueError, match=r"1 of the 16 rows.*-100"):
        exit_curve(early_exit, partly, [1.0])
    with pytest.raises(ValueError, match=r"'labels' holds 7.*num_labels=2"):
        exit_curve(early_exit, small.map(lambda row: {"labels": 7}), [1.0])
    with pytest.raises(ValueError, match="empty"):
        exit_curve(early_exit, small.select([]), [1.0])


def test_ratio_columns_compare_every_row_with_the_full_model(early_exit, tokenized):
    _, dev = tokenized
    curve = exit_curve(early_exit, dev, [0.0, 1.0, 0.9], batch_size=32)
    assert not curve.isna().any().any()
    full = curve[curve["threshold"] == 1.0].iloc[0]
    assert (full["accuracy_change"], full["flops_ratio"], full["speedup"]) == (0.0, 1.0, 1.0)
    np.testing.assert_allclose(curve["accuracy_change"], curve["accuracy"] - full["accuracy"])
    np.testing.assert_allclose(curve["flops_ratio"], full["flops_per_example"] / curve["flops_per_example"])
    np.testing.assert_allclose(curve["speedup"], full["ms_per_example"] / curve["ms_per_example"])
    assert curve["flops_ratio"].iloc[0] > 1  # threshold 0 exits every example after the first of two layers
    # without the full model there is nothing to compare with: no ratio columns (never a column of NaN)
    partial = exit_curve(early_exit, dev.select(range(16)), [0.5, 0.9])
    assert list(partial.columns) == ["threshold", "accuracy", "mean_layers", "flops_per_example", "ms_per_example"]
