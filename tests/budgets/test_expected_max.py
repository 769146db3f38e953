import numpy as np
import pytest

from greennlp._files import save_figure
from greennlp.budgets import expected_max_performance
from greennlp.budgets.expected_max import plot_expected_max


def test_hand_computed_three_scores():
    # sorted v = 1, 2, 3; P(max of n = v_i) = (i/3)^n - ((i-1)/3)^n
    frame = expected_max_performance([3.0, 1.0, 2.0])
    assert frame.columns.tolist() == ["n", "expected_max", "std"]
    assert frame["n"].tolist() == [1, 2, 3]
    # n=1: the mean and the population std
    assert frame.loc[0, "expected_max"] == pytest.approx(2.0)
    assert frame.loc[0, "std"] == pytest.approx(np.sqrt(2 / 3))
    # n=2: p = 1/9, 3/9, 5/9 -> E = 22/9, E[v^2] = 58/9
    assert frame.loc[1, "expected_max"] == pytest.approx(22 / 9)
    assert frame.loc[1, "std"] == pytest.approx(np.sqrt(58 / 9 - (22 / 9) ** 2))
    # n=3: p = 1/27, 7/27, 19/27 -> E = 72/27
    assert frame.loc[2, "expected_max"] == pytest.approx(72 / 27)


def test_two_scores_and_chosen_budgets():
    frame = expected_max_performance([0.5, 0.7], n_values=[2])
    # max of two draws from {0.5, 0.7} is 0.5 only if both are 0.5: E = 0.25*0.5 + 0.75*0.7
    assert frame["expected_max"].item() == pytest.approx(0.65)
    assert frame["std"].item() == pytest.approx(np.sqrt(0.25 * 0.75) * 0.2)


def test_monotone_and_tends_to_max():
    scores = np.random.default_rng(0).uniform(0.6, 0.9, size=50)
    frame = expected_max_performance(scores)
    assert np.all(np.diff(frame["expected_max"]) >= -1e-12)
    assert frame["expected_max"].iloc[0] == pytest.approx(scores.mean())
    assert scores.max() - frame["expected_max"].iloc[-1] < 0.01
    assert frame["std"].iloc[-1] < frame["std"].iloc[0]
    constant = expected_max_performance([0.8] * 5)
    assert np.allclose(constant["expected_max"], 0.8) and np.allclose(constant["std"], 0.0)


def test_errors():
    with pytest.raises(ValueError, match="at least one score"):
        expected_max_performance([])
    with pytest.raises(ValueError, match="n_values must lie in 1..3"):
        expected_max_performance([1, 2, 3], n_values=[4])
    with pytest.raises(ValueError, match="NaN"):
        expected_max_performance([1.0, float("nan")])


def test_plot_against_trials_and_cost(tmp_path):
    figure = plot_expected_max([0.7, 0.8, 0.75, 0.82], costs=[10, 12, 11, 9], cost_label="seconds", label="tiny")
    assert len(figure.axes) == 2
    assert figure.axes[1].get_lines()[0].get_xdata()[-1] == pytest.approx(4 * 10.5)
    path = save_figure(tmp_path / "emp.png", figure)
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="one cost per trial"):
        plot_expected_max([0.7, 0.8], costs=[1.0])


def test_plot_is_a_figure_saved_without_pyplot(tmp_path):
    import sys

    from matplotlib.figure import Figure

    open_before = sys.modules["matplotlib.pyplot"].get_fignums() if "matplotlib.pyplot" in sys.modules else []
    figure = plot_expected_max([0.7, 0.8, 0.75], path=tmp_path / "emp.svg")
    assert isinstance(figure, Figure) and len(figure.axes) == 1  # one panel without costs
    assert (tmp_path / "emp.svg").read_text().lstrip().startswith("<?xml")
    if "matplotlib.pyplot" in sys.modules:  # nothing registered with pyplot's global figure manager
        assert sys.modules["matplotlib.pyplot"].get_fignums() == open_before
    overlay = plot_expected_max([0.6, 0.9], axes=figure.axes[0], label="other")
    assert overlay is figure and len(figure.axes[0].get_lines()) == 2
