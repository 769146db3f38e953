"""Writers for the files budgets produces (JSON, Parquet, PNG), all through the project's one atomic writer
(``datamaps.atomic_write``): a crash never leaves half a file behind and a reader never sees one."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from datamaps import atomic_write


def write_json(data: Any, path: str | os.PathLike) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""

    def write(temp: str) -> None:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False, default=str)
            handle.write("\n")

    return atomic_write(path, write)


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` to Parquet at ``path`` atomically (index kept only when it carries a name)."""
    return atomic_write(path, lambda temp: frame.to_parquet(temp, index=frame.index.name is not None))


def save_figure(figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save a matplotlib figure atomically; the format follows the suffix of ``path`` (``.png``, ``.svg``)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return atomic_write(path, lambda temp: figure.savefig(temp, dpi=dpi, bbox_inches="tight", format=fmt))
