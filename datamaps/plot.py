"""Draw a data map as in Swayamdipta et al. (2020): variability (x) vs confidence (y), coloured by
correctness, with the regions shaded and named in a legend below the plot (never on top of points) and histograms
of the three metrics. Hexbin density for large maps."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from greennlp._files import save_figure

from .regions import EASY_CONFIDENCE, has_variability

DENSITY_THRESHOLD = 50_000
_FORMATS = {".png", ".svg", ".pdf"}


def plot_data_map(data_map, path: str | os.PathLike | None = None, title: str | None = None,
                  max_points: int | None = None, density: bool | None = None, seed: int = 0):
    """Draw ``data_map`` and save it to ``path`` (format from the extension: .png, .svg or .pdf).

    ``density`` switches the scatter to a hexbin of point density; by default above 50,000 examples.
    ``max_points`` subsamples the scatter (seeded) for lighter files. Returns the matplotlib ``Figure``, built
    with the object API: no backend is chosen and pyplot keeps no reference to it.
    """
    if path is not None and Path(path).suffix.lower() not in _FORMATS:
        raise ValueError(f"Unsupported figure format {Path(path).suffix!r}; use one of {sorted(_FORMATS)}.")
    table = data_map.table.dropna(subset=["confidence", "variability"])
    if density is None:
        density = len(table) > DENSITY_THRESHOLD
    shown = table
    if max_points is not None and len(table) > max_points:
        shown = table.sample(n=max_points, random_state=seed)

    figure = Figure(figsize=(11, 7))
    grid = figure.add_gridspec(3, 2, width_ratios=[3, 1], hspace=0.45, wspace=0.25)
    axis = figure.add_subplot(grid[:, 0])
    if density:
        image = axis.hexbin(shown["variability"], shown["confidence"], gridsize=60, bins="log", cmap="viridis", mincnt=1)
        figure.colorbar(image, ax=axis, label="examples (log)")
    else:
        levels = np.round(shown["correctness"].to_numpy(dtype=float), 1)
        scatter = axis.scatter(shown["variability"], shown["confidence"], c=levels, cmap="coolwarm_r",
                               s=max(2, min(20, 20000 / max(len(shown), 1))), alpha=0.6, vmin=0, vmax=1, linewidths=0)
        figure.colorbar(scatter, ax=axis, label="correctness")
    axis.set_xlabel("variability")
    axis.set_ylabel("confidence")
    axis.set_ylim(-0.02, 1.02)
    axis.set_xlim(left=0)
    _shade_regions(axis, table)
    epochs = data_map.metadata.get("epochs_used")
    axis.set_title(title or f"Data map: {len(table):,} examples" + (f", {len(epochs)} epochs" if epochs else ""))

    for row, (column, colour) in enumerate((("confidence", "tab:purple"), ("variability", "tab:teal"),
                                           ("correctness", "tab:blue"))):
        histogram = figure.add_subplot(grid[row, 1])
        histogram.hist(table[column].dropna(), bins=20, color=colour if colour != "tab:teal" else "teal")
        histogram.set_title(column, fontsize=10)
        histogram.tick_params(labelsize=8)
    if path is not None:
        save_figure(path, figure, dpi=150)
    return figure


#: Region -> colour of its shaded area (pale, under the points).
REGION_COLOURS = {"easy-to-learn": "tab:green", "hard-to-learn": "tab:red", "ambiguous": "tab:purple"}


def region_boundaries(table: pd.DataFrame) -> tuple[float, float] | None:
    """``(variability, confidence)`` where the regions meet: the least variability of an ambiguous example, and
    the confidence that splits the others into easy- and hard-to-learn; ``None`` when the map has no regions.

    Regions are ranks (the most variable third is ambiguous), so examples tied at the variability boundary may
    fall on either side of it; the ``region`` column of the table is the authority.
    """
    ambiguous = (table["region"] == "ambiguous").to_numpy() & has_variability(table)
    if not ambiguous.any():
        return None
    return float(table["variability"].to_numpy(dtype=float)[ambiguous].min()), EASY_CONFIDENCE


def _shade_regions(axis, table) -> None:
    """Shade each region's area under the points and name the regions in a legend below the axes: labels inside
    the plot would hide the lowest-confidence points, the likely label errors."""
    boundaries = region_boundaries(table)
    if boundaries is None:
        return
    variability, confidence = boundaries
    right = max(float(table["variability"].max()) * 1.05, variability * 1.05, 1e-6)
    axis.set_xlim(0, right)
    areas = {"easy-to-learn": ((0, variability), (confidence, 1.02)),
             "hard-to-learn": ((0, variability), (-0.02, confidence)),
             "ambiguous": ((variability, right), (-0.02, 1.02))}
    for region, ((x0, x1), (y0, y1)) in areas.items():
        axis.fill_between([x0, x1], y0, y1, color=REGION_COLOURS[region], alpha=0.08, linewidth=0, zorder=0)
    handles = [Patch(facecolor=REGION_COLOURS[region], alpha=0.25, label=region) for region in areas]
    axis.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, frameon=False,
                title=f"regions (ambiguous: variability ≥ {variability:.3f})", fontsize=10, title_fontsize=10)
