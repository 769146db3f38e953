"""exit_curve: one priced row per threshold."""
from __future__ import annotations

import numpy as np

from greennlp.inference import exit_curve


def test_curve_columns_and_the_full_model_row(trained_early_exit, tokenized):
    _, dev = tokenized
    curve = exit_curve(trained_early_exit, dev, [0.0, 0.9, 1.0], batch_size=32)
    assert list(curve.columns) == ["threshold", "accuracy", "mean_layers", "flops_per_example", "ms_per_example"]
    assert curve["threshold"].tolist() == [0.0, 0.9, 1.0]
    assert curve["mean_layers"].tolist()[0] == 1.0 and curve["mean_layers"].tolist()[-1] == 2.0
    assert np.all(np.diff(curve["flops_per_example"]) >= 0) and (curve["ms_per_example"] > 0).all()
    full = trained_early_exit.predict(dev, threshold=1.0)
    assert curve["accuracy"].iloc[-1] == (full["label"].to_numpy() == np.asarray(dev["labels"])).mean()
