"""An interactive data map: one self-contained HTML file (plotly, with plotly.js embedded so it opens offline) in
which hovering a point shows the example's text, gold label and metrics, the regions are shaded and a menu shows
one region at a time. plotly is an optional extra (``pip install greennlp[interactive]``).

Points are coloured by correctness with one colour per value it takes (k of T time points correct: T + 1 values),
keyed in a legend of its own; the region legend shows each region's shaded area, and clicking it hides the area
and its points together."""
from __future__ import annotations

import html
import numbers
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from greennlp._files import write_text

from .plot import region_boundaries
from .regions import REGIONS

#: Above this many points the scatter is drawn with WebGL (``Scattergl``), which stays fluid with 100k points.
WEBGL_THRESHOLD = 20_000
#: Region -> pale fill of its area, and the outline that marks the area's edges (and its swatch in the legend).
_REGION_COLOURS = {"easy-to-learn": "rgba(44, 160, 44, 0.10)", "hard-to-learn": "rgba(214, 39, 40, 0.10)",
                   "ambiguous": "rgba(148, 103, 189, 0.12)"}
_REGION_OUTLINES = {"easy-to-learn": "rgba(44, 160, 44, 0.6)", "hard-to-learn": "rgba(214, 39, 40, 0.6)",
                    "ambiguous": "rgba(148, 103, 189, 0.6)"}
_NO_REGION = "no region"
#: Correctness colours run from never correct (red) to always correct (blue), saturated all along, so every point
#: stands out from the white page and the pale regions.
_CORRECTNESS_SCALE = [[0.0, "rgb(214, 39, 40)"], [1.0, "rgb(31, 119, 180)"]]
#: At most this many correctness colours; a map with more distinct values (many snapshots, unequal records) is
#: coloured by correctness rounded to 0.1.
_MAX_CORRECTNESS_COLOURS = 11
_CORRECTNESS_LEGEND = "legend2"
_HOVER_WIDTH = 80  # characters per line of hover text
_HOVER_CHARACTERS = 400  # longer texts are cut, so a hover box never covers the whole map


def write_interactive_map(data_map, path: str | os.PathLike, *, texts=None, text_column: str = "text",
                          label_names: Sequence[str] | None = None, title: str | None = None,
                          max_points: int | None = None, seed: int = 0):
    """Write ``data_map`` as one self-contained HTML file at ``path``; returns the plotly ``Figure``.

    Parameters
    ----------
    data_map : DataMap
        The map to draw.
    path : str or os.PathLike
        Where to write the ``.html`` file (atomically: a temporary file renamed over ``path``).
    texts : sequence of str, pandas.Series or datasets.Dataset, optional
        The examples' texts, shown on hover: a list aligned with ``data_map.table`` (same order and length), a
        Series indexed by example id, or the dataset the map was recorded on (matched with
        ``DataMap.dataset_rows``; its text is read from ``text_column``).
    text_column : str, default "text"
        The dataset column that holds the text, when ``texts`` is a dataset.
    label_names : sequence of str, optional
        Names of the class ids, shown instead of the ids (e.g. ``["negative", "positive"]``).
    title : str, optional
        The figure title; by default the number of examples and epochs.
    max_points : int, optional
        Draw a seeded random sample of at most this many examples (lighter files for very large maps); a positive
        whole number (``ValueError`` otherwise).
    seed : int, default 0
        Seed of that sample.

    Returns
    -------
    plotly.graph_objects.Figure

    Raises
    ------
    ImportError
        When plotly is not installed.
    """
    try:
        import plotly.graph_objects as go
    except ImportError as error:
        raise ImportError("The interactive data map needs plotly: pip install 'greennlp[interactive]' "
                          "(or pip install plotly).") from error
    if max_points is not None and (not isinstance(max_points, numbers.Integral)
                                   or isinstance(max_points, (bool, np.bool_)) or max_points < 1):
        raise ValueError(f"max_points is how many examples to draw at most, a positive whole number (or None for all); "
                         f"got {max_points!r}.")
    path = Path(path)
    if path.suffix.lower() not in {".html", ".htm"}:
        raise ValueError(f"The interactive map is an HTML file; got path {str(path)!r} (use a .html suffix).")
    table = data_map.table
    hover_texts = _texts_for(data_map, texts, text_column)
    recorded = table["confidence"].notna().to_numpy() & table["variability"].notna().to_numpy()
    shown = np.flatnonzero(recorded)
    if max_points is not None and len(shown) > max_points:
        shown = np.sort(np.random.default_rng(seed).choice(shown, size=max_points, replace=False))
    table = table.iloc[shown]
    if hover_texts is not None:
        hover_texts = [hover_texts[i] for i in shown]
    regions = table["region"].astype(object).where(table["region"].notna(), _NO_REGION).to_numpy()
    step, keys, key_title = _correctness_steps(table)
    colours = np.asarray(_sample_colours([value for value, _ in keys]), dtype=object)
    shaded = region_boundaries(data_map.table) is not None  # the regions' areas carry their legend entries

    scatter = go.Scattergl if len(table) > WEBGL_THRESHOLD else go.Scatter
    traces = []
    for region in [*REGIONS, _NO_REGION]:
        inside = regions == region
        if not inside.any():
            continue
        part = table[inside]
        custom = np.column_stack([
            part.index.astype(str).to_numpy(dtype=object),
            _label_text(part["gold"].to_numpy(), label_names),
            np.full(len(part), region, dtype=object),
            _hover_lines(None if hover_texts is None else [hover_texts[i] for i in np.flatnonzero(inside)],
                         len(part)),
        ])
        traces.append(scatter(
            x=part["variability"].to_numpy(), y=part["confidence"].to_numpy(), mode="markers", name=region,
            customdata=custom,
            text=[_metrics_line(row) for row in part.itertuples()],
            hovertemplate=("<b>%{customdata[0]}</b> (%{customdata[2]})<br>gold: %{customdata[1]}<br>%{text}"
                           "%{customdata[3]}<extra></extra>"),
            marker=dict(color=colours[step[inside]].tolist(), size=_size(len(table)), opacity=0.8, line=dict(width=0)),
            legendgroup=region, showlegend=not (shaded and region in REGIONS),
        ))
    regions_shown = [trace.name for trace in traces]
    # The colour key: one legend entry per correctness value, points without data (a key, not a toggle)
    for (_, label), colour in zip(keys, colours, strict=True):
        traces.append(go.Scatter(x=[], y=[], mode="markers", name=label, legend=_CORRECTNESS_LEGEND,
                                 marker=dict(color=colour, size=10), hoverinfo="skip"))
    figure = go.Figure(traces)
    epochs = data_map.metadata.get("epochs_used")
    figure.update_layout(
        title=title or f"Data map: {len(table):,} examples" + (f", {len(epochs)} epochs" if epochs else ""),
        xaxis=dict(title="variability", rangemode="tozero"), yaxis=dict(title="confidence", range=[-0.02, 1.02]),
        showlegend=True,
        legend=dict(title="region (click to hide)", orientation="h", x=0, y=-0.13, yanchor="top"),
        legend2=dict(title=key_title, x=1.02, xanchor="left", y=1, yanchor="top", itemclick=False,
                     itemdoubleclick=False),
        template="plotly_white", hovermode="closest", margin=dict(t=90),
    )
    _shade_regions(figure, data_map.table)
    if len(regions_shown) > 1:
        figure.update_layout(updatemenus=[_region_menu(regions_shown, keys=len(keys))])
    html_text = figure.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})
    write_text(path, html_text)
    return figure


def _texts_for(data_map, texts, text_column: str) -> list[str] | None:
    """The texts in ``data_map.table`` order, from any of the accepted forms; ``None`` without texts."""
    if texts is None:
        return None
    if hasattr(texts, "column_names"):  # a datasets.Dataset (or IterableDataset with columns)
        if text_column not in texts.column_names:
            raise ValueError(f"The dataset has no column {text_column!r} (columns: {texts.column_names}); pass "
                             "text_column=... naming the column that holds the text.")
        rows = data_map.dataset_rows(texts).to_numpy()
        column = texts[text_column]
        return [str(column[int(row)]) for row in rows]
    if isinstance(texts, pd.Series):
        missing = data_map.table.index.difference(texts.index)
        if len(missing):
            raise ValueError(f"texts is a Series indexed by example id, but {len(missing)} of the map's ids are not in "
                             f"its index (e.g. {list(missing[:3])}).")
        return [str(text) for text in texts.reindex(data_map.table.index)]
    texts = list(texts)
    if len(texts) != len(data_map):
        raise ValueError(f"texts must hold one text per example of the map, in table order ({len(data_map)}); got "
                         f"{len(texts)}. Pass the dataset itself to match rows by id or content.")
    return [str(text) for text in texts]


def _label_text(gold: np.ndarray, label_names: Sequence[str] | None) -> np.ndarray:
    if label_names is None:
        return gold.astype(str).astype(object)
    names = list(label_names)
    return np.asarray([names[g] if 0 <= g < len(names) else str(g) for g in gold], dtype=object)


def _hover_lines(texts: list[str] | None, count: int) -> np.ndarray:
    """Each text escaped (plotly renders HTML in hover labels), cut and wrapped, after a line break."""
    if texts is None:
        return np.full(count, "", dtype=object)
    lines = []
    for text in texts:
        short = textwrap.shorten(text, _HOVER_CHARACTERS, placeholder=" ...")
        wrapped = "<br>".join(html.escape(line) for line in textwrap.wrap(short, _HOVER_WIDTH))
        lines.append("<br><br>" + wrapped)
    return np.asarray(lines, dtype=object)


def _metrics_line(row) -> str:
    values = [f"confidence {row.confidence:.3f}", f"variability {row.variability:.3f}",
              f"correctness {row.correctness:.2f}"]
    if hasattr(row, "aum") and np.isfinite(row.aum):
        values.append(f"AUM {row.aum:.3f}")
    return ", ".join(values)


def _size(count: int) -> float:
    return float(max(3, min(9, 30000 / max(count, 1) ** 1.2 + 3)))


def _shade_regions(figure, table: pd.DataFrame) -> None:
    """Pale rectangles over the area of each region, named above the plot (never on top of points)."""
    boundaries = region_boundaries(table)
    if boundaries is None:
        figure.add_annotation(text="one observation per example: no regions (train 2 epochs or more)",
                              xref="paper", yref="paper", x=0, y=1.06, showarrow=False, xanchor="left")
        return
    variability, confidence = boundaries
    right = float(np.nanmax(table["variability"].to_numpy(dtype=float)))
    right = max(right * 1.05, variability * 1.05, 1e-6)
    areas = {"easy-to-learn": (0, variability, confidence, 1.02), "hard-to-learn": (0, variability, -0.02, confidence),
             "ambiguous": (variability, right, -0.02, 1.02)}
    for rank, (region, (x0, x1, y0, y1)) in enumerate(areas.items()):
        # The area is the region's legend entry (its swatch looks like the area); one legend group with the
        # region's points, so a click hides both.
        figure.add_shape(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, fillcolor=_REGION_COLOURS[region],
                         line=dict(width=1, color=_REGION_OUTLINES[region]), layer="below", name=region,
                         showlegend=True, legendgroup=region, legendrank=rank + 1)
    figure.add_annotation(
        text=(f"shaded: <b>ambiguous</b> = the most variable third (variability ≥ {variability:.3f}); of the rest, "
              f"<b>easy-to-learn</b> = confidence ≥ {confidence:g}, <b>hard-to-learn</b> below"),
        xref="paper", yref="paper", x=0, y=1.06, showarrow=False, xanchor="left", font=dict(size=11))


def _correctness_steps(table: pd.DataFrame) -> tuple[np.ndarray, list[tuple[float, str]], str]:
    """Each example's colour step (an index into the keys), the keys ``(value, label)`` in increasing order, and
    the title of their legend. One step per correctness value: k of T time points correct, labelled "k/T"."""
    correctness = table["correctness"].to_numpy(dtype=float)
    observed = int(table["observations"].max()) if "observations" in table and len(table) else 0
    values = np.round(correctness, 6)
    rounded = len(np.unique(values)) > _MAX_CORRECTNESS_COLOURS
    if rounded:
        values = np.round(correctness, 1)
    unique, step = np.unique(values, return_inverse=True)
    keys = []
    for value in unique:
        count = value * observed
        whole = not rounded and observed > 0 and abs(count - round(count)) < 1e-6
        keys.append((float(value), f"{round(count)}/{observed}" if whole else f"{value:.2g}"))
    title = "correctness<br>(rounded to 0.1)" if rounded else "correctness<br>(times correct / observed)"
    return step.reshape(-1), keys, title


def _sample_colours(values: list[float]) -> list[str]:
    from plotly.colors import sample_colorscale

    return sample_colorscale(_CORRECTNESS_SCALE, values) if values else []


def _region_menu(names: list[str], *, keys: int = 0) -> dict:
    """Buttons that show every point or one region's points (plotly ``updatemenus``: no server needed); the
    ``keys`` legend-only traces after the regions' traces stay as they are."""
    buttons = [dict(label="all regions", method="restyle", args=[{"visible": [True] * (len(names) + keys)}])]
    for name in names:
        visible = [other == name for other in names] + [True] * keys
        buttons.append(dict(label=name, method="restyle", args=[{"visible": visible}]))
    return dict(type="buttons", direction="right", buttons=buttons, x=1.0, xanchor="right", y=-0.13, yanchor="top",
                showactive=True, pad=dict(r=0, t=0))
