"""The interactive HTML map (plotly, optional extra) and the PNG's region labels."""
from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from greennlp.datamaps import DataMap

pytest.importorskip("plotly", reason="plotly is the optional 'interactive' extra")


def _map(n: int = 60, epochs: int = 4, seed: int = 0) -> DataMap:
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 2, n)
    logits = rng.normal(size=(n, epochs, 2)) * 2
    return DataMap.from_logits(logits, gold, ids=[f"ex-{i:04d}" for i in range(n)])


def test_html_is_self_contained_and_holds_every_point(tmp_path):
    data_map = _map()
    texts = [f"sentence number {i} <b>not bold</b>" for i in range(len(data_map))]
    figure = data_map.plot_interactive(tmp_path / "map.html", texts=texts, label_names=["negative", "positive"])
    assert [p.name for p in tmp_path.iterdir()] == ["map.html"]  # written atomically: no temporary file left
    html = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert "plotly.js v" in html and len(html) > 1_000_000  # the bundle is embedded: opens offline
    assert sum(len(trace.x) for trace in figure.data) == len(data_map)
    points = [trace for trace in figure.data if trace.legend != "legend2"]  # the others are the colour key
    assert {trace.name for trace in points} == set(data_map.table["region"].dropna().unique())
    for i in range(len(data_map)):
        assert f"ex-{i:04d}" in html
    # hover text is escaped (plotly renders HTML in hover labels) and holds text, gold label and metrics
    assert "sentence number 17 &lt;b&gt;not bold&lt;" in html and "<b>not bold" not in html
    assert "positive" in html and "confidence 0." in html
    assert len(figure.layout.shapes) == 3  # one shaded area per region
    buttons = figure.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["all regions", *[trace.name for trace in points]]
    assert all(len(b.args[0]["visible"]) == len(figure.data) for b in buttons)


def test_correctness_has_one_colour_per_value_and_the_legend_looks_like_the_regions(tmp_path):
    """Correctness takes epochs + 1 values: one colour and one legend entry each, not a continuous colour bar; the
    region legend entries are the shaded areas (not identical dark markers) and toggle their points with them."""
    data_map = _map(n=80, epochs=4)
    figure = data_map.plot_interactive(tmp_path / "map.html")
    layout = figure.to_plotly_json()["layout"]
    assert "coloraxis" not in layout  # no continuous colour bar
    key = [trace for trace in figure.data if trace.legend == "legend2"]
    points = [trace for trace in figure.data if trace.legend != "legend2"]
    values = sorted(set(np.round(data_map.table["correctness"], 6)))
    assert [trace.name for trace in key] == [f"{round(4 * value)}/4" for value in values]
    key_colours = [trace.marker.color for trace in key]
    assert len(set(key_colours)) == len(values) and all(len(trace.x) == 0 for trace in key)
    assert layout["legend2"]["itemclick"] is False
    for trace in points:
        correctness = data_map.table.loc[list(trace.customdata[:, 0]), "correctness"].to_numpy()
        expected = [key_colours[values.index(value)] for value in np.round(correctness, 6)]
        assert list(trace.marker.color) == expected  # each point in the colour of its value
        assert trace.legendgroup == trace.name and trace.showlegend is False  # its area is its legend entry
    shapes = figure.layout.shapes
    assert [(shape.name, shape.legendgroup, shape.showlegend) for shape in shapes] == [
        (region, region, True) for region in ("easy-to-learn", "hard-to-learn", "ambiguous")]
    assert all(shape.fillcolor.startswith("rgba(") and shape.line.width > 0 for shape in shapes)


def test_texts_from_the_dataset_the_map_was_recorded_on(dataset, tmp_path):
    rng = np.random.default_rng(0)
    data_map = DataMap.from_logits(rng.normal(size=(len(dataset), 3, 2)), dataset["label"], ids=dataset["guid"],
                                   id_column="guid")
    reordered = dataset.shuffle(seed=3)  # matched by id, not position
    data_map.plot_interactive(tmp_path / "map.html", texts=reordered)
    html = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert dataset["text"][5] in html
    with pytest.raises(ValueError, match="no column 'sentence'"):
        data_map.plot_interactive(tmp_path / "other.html", texts=dataset, text_column="sentence")


def test_bad_texts_and_paths_are_refused(tmp_path):
    data_map = _map(n=10)
    with pytest.raises(ValueError, match="one text per example"):
        data_map.plot_interactive(tmp_path / "map.html", texts=["only one"])
    with pytest.raises(ValueError, match=r"\.html suffix"):
        data_map.plot_interactive(tmp_path / "map.png")
    assert not list(tmp_path.iterdir())


def test_one_epoch_map_has_no_shaded_regions(tmp_path):
    data_map = _map(n=20, epochs=1)
    figure = data_map.plot_interactive(tmp_path / "map.html")
    assert not figure.layout.shapes and not figure.layout.updatemenus
    assert "no regions" in figure.layout.annotations[0].text


def test_missing_plotly_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['plotly'] = None; sys.modules['plotly.graph_objects'] = None\n"
            "import numpy as np\nfrom greennlp.datamaps import DataMap\n"
            "m = DataMap.from_logits(np.zeros((4, 2, 2)), [0, 1, 0, 1])\n"
            "try:\n    m.plot_interactive(sys.argv[1])\nexcept ImportError as e:\n    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.html")], capture_output=True, text=True,
                            check=True)
    assert "pip install 'greennlp[interactive]'" in result.stdout


def test_png_region_labels_stay_off_the_points(tmp_path):
    """Region names used to sit inside the axes, on top of the lowest-confidence points (likely label errors)."""
    figure = _map().plot(tmp_path / "map.png")
    axis = figure.axes[0]
    assert not axis.texts  # no annotation inside the data area
    legend = axis.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["easy-to-learn", "hard-to-learn", "ambiguous"]
    assert legend.get_window_extent().y1 <= axis.get_window_extent().y0  # below the axes


def test_headless_chromium_shows_the_points(tmp_path):
    """Open the file in a real browser, offline, and check the screenshot shows coloured markers."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (Debian: apt-get install -y chromium); CI installs it")
    image = pytest.importorskip("matplotlib.image")
    path, shot = tmp_path / "map.html", tmp_path / "shot.png"
    _map(n=200).plot_interactive(path, texts=[f"text {i}" for i in range(200)])
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--virtual-time-budget=5000", f"--screenshot={shot}", "--window-size=1000,800",
                    path.as_uri()], capture_output=True, timeout=60, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    pixels = image.imread(str(shot))[..., :3]
    assert pixels.shape[:2] == (800, 1000)
    # Markers use the saturated ends of the RdBu scale; the page, axes and shaded regions are pale.
    spread = pixels.max(axis=-1) - pixels.min(axis=-1)
    coloured = int((spread > 0.35).sum())
    assert coloured > 2000, f"only {coloured} saturated pixels: the points were not drawn"
    assert len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50


def test_max_points_must_be_a_positive_whole_number(tmp_path):
    data_map = _map(n=10)
    for max_points in (-1, 0, 2.5, True):
        with pytest.raises(ValueError, match=r"max_points.*positive whole number"):
            data_map.plot_interactive(tmp_path / "map.html", max_points=max_points)
    assert not list(tmp_path.iterdir())
    figure = data_map.plot_interactive(tmp_path / "map.html", max_points=np.int64(4))
    assert sum(len(trace.x) for trace in figure.data) == 4
