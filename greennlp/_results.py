"""The project's one resumable results table: a Parquet file of finished runs, one row per key, that a rerun
reads to skip what is done. Rows are appended under a lock on the file (``filelock``), re-reading the table
each time, so two processes writing into one output folder both keep their rows; every write is atomic.
And the one mean ± std of every summary (population std, ``ddof=0``).
Private: ``BudgetCurve``, ``fewshot.run_benchmark`` and the scripts' summaries build on it."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from ._files import write_parquet


class ResultsTable:
    """Finished runs in ``path`` (Parquet), unique by the ``key`` columns.

    ``writer`` names what writes the table (for error messages); ``required`` are columns a table written by
    that writer always has, so that a foreign file in the output folder is refused instead of overwritten.
    """

    def __init__(self, path: str | os.PathLike, *, key: Sequence[str], writer: str,
                 required: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.key = list(key)
        self.writer = writer
        self.required = list(dict.fromkeys([*self.key, *required]))
        self._lock = FileLock(str(self.path.with_name(f".{self.path.name}.lock")))

    def load(self) -> pd.DataFrame:
        """Every finished run (an empty table with the key columns when there is none yet)."""
        if not self.path.is_file():
            return pd.DataFrame(columns=self.required)
        table = pd.read_parquet(self.path)
        missing = [column for column in self.required if column not in table.columns]
        if missing:
            raise ValueError(f"{self.path} lacks the columns {missing}: it was not written by {self.writer}. "
                             "Use another output folder, or remove the file to start afresh.")
        return table

    def done(self) -> set[tuple]:
        """The keys of the finished runs, as tuples of Python scalars."""
        return {self._key_of(row) for row in self.load()[self.key].to_dict("records")}

    def append(self, row: Mapping[str, Any]) -> pd.DataFrame:
        """Add one finished run (replacing a row with the same key) and return the whole table."""
        missing = [column for column in self.required if column not in row]
        if missing:
            raise ValueError(f"a {self.writer} row lacks {missing}; got the columns {sorted(row)}.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            table = self.load()
            if len(table):
                keys = [self._key_of(r) for r in table[self.key].to_dict("records")]
                table = table[[k != self._key_of(row) for k in keys]]
            new = pd.DataFrame([dict(row)])
            table = pd.concat([table, new], ignore_index=True) if len(table) else new
            write_parquet(self.path, table)
        return table

    def replace(self, table: pd.DataFrame) -> None:
        """Write ``table`` as the whole results table (e.g. ``resume=False`` starting afresh)."""
        with self._lock:
            write_parquet(self.path, table)

    def _key_of(self, row: Mapping[str, Any]) -> tuple:
        return tuple(_plain(row[column]) for column in self.key)


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones, and whole floats as ints, so keys from Parquet and from code compare."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def population_std(values: Any) -> float:
    """The population standard deviation (``ddof=0``, as ``numpy.std``): the one std of the project's summaries
    (budget curves, few-shot benchmarks, the scripts' tables), so one seed gives 0, not NaN as pandas' ``ddof=1``
    would."""
    return float(np.std(np.asarray(values, dtype=float)))


def mean_std(values: Any) -> tuple[float, float]:
    """Mean and population standard deviation (:func:`population_std`) of ``values``."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), population_std(values)
