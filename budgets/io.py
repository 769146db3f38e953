"""Atomic writers for the files budgets produces (JSON, Parquet, PNG): a temp file in the same folder, then
``os.replace``, so a crash never leaves half a file behind and a reader never sees one."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd


def _atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temp)
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(data: Any, path: str | os.PathLike) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""

    def write(temp: str) -> None:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False, default=str)
            handle.write("\n")

    return _atomic(path, write)


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` to Parquet at ``path`` atomically (index kept only when it carries a name)."""
    return _atomic(path, lambda temp: frame.to_parquet(temp, index=frame.index.name is not None))


def save_figure(figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save a matplotlib figure atomically; the format follows the suffix of ``path`` (``.png``, ``.svg``)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return _atomic(path, lambda temp: figure.savefig(temp, dpi=dpi, bbox_inches="tight", format=fmt))
