"""On-disk format of a data map: one Parquet file per epoch plus ``metadata.json``, all written atomically.

Layout of ``output_dir``::

    metadata.json            mode, epochs, num_labels, id column, model name, created, ...
    examples.parquet         one row per example: row, [id], [fingerprint] (token fingerprint, for matching a
                             reordered dataset by content)
    dynamics/epoch_000.parquet   columns: row, [id], gold, p_gold, correct, margin, snapshot, [probs]
    partial/step_00000120.parquet   the record of an unfinished epoch at a checkpoint (for resuming)

Also reads and writes the original cartography JSONL schema (``dynamics_epoch_{E}.jsonl`` with ``guid``,
``logits_epoch_{E}``, ``gold``) so that maps made with allenai/cartography can be analysed here.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from greennlp._files import atomic_write

METADATA_FILE = "metadata.json"
EXAMPLES_FILE = "examples.parquet"
DYNAMICS_DIR = "dynamics"
PARTIAL_DIR = "partial"
FORMAT_VERSION = 1
_EPOCH_FILE = re.compile(r"^epoch_(\d+)\.parquet$")


def write_table(path: str | os.PathLike, columns: dict[str, Any]) -> None:
    """Write a dict of columns (numpy arrays, or lists for list-valued columns) as Parquet, atomically."""
    table = pa.table({name: _to_arrow(values) for name, values in columns.items()})
    # Row groups bound the writer's buffers; dictionary encoding is off: these columns are mostly distinct
    # numbers, and its hash table cost 74 MB for a 1M-example epoch.
    atomic_write(path, lambda temporary: pq.write_table(table, temporary, row_group_size=131_072,
                                                                use_dictionary=False))


def _to_arrow(values: Any) -> pa.Array:
    if isinstance(values, np.ndarray) and values.ndim == 2:  # probability vectors -> list<float32 or float64>
        flat = pa.array(values.astype(np.float64 if values.dtype == np.float64 else np.float32).ravel())
        offsets = pa.array(np.arange(0, values.size + 1, values.shape[1], dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, flat)
    return pa.array(values)


def read_table(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a Parquet file written by :func:`write_table`; list columns come back as 2-D arrays."""
    table = pq.read_table(path)
    columns = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if pa.types.is_list(column.type):
            width = len(column[0]) if len(column) else 0
            columns[name] = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), width)
        else:
            columns[name] = column.to_numpy(zero_copy_only=False)
    return columns


def epoch_path(output_dir: str | os.PathLike, epoch: int) -> Path:
    return Path(output_dir) / DYNAMICS_DIR / f"epoch_{epoch:03d}.parquet"


def partial_path(output_dir: str | os.PathLike, global_step: int) -> Path:
    return Path(output_dir) / PARTIAL_DIR / f"step_{global_step:08d}.parquet"


def list_epochs(output_dir: str | os.PathLike) -> list[int]:
    """Epoch indices with a finished record under ``output_dir``, in order."""
    folder = Path(output_dir) / DYNAMICS_DIR
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for m in map(_EPOCH_FILE.match, os.listdir(folder)) if m)


def read_metadata(output_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(output_dir) / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"No data map in {str(output_dir)!r}: {METADATA_FILE} is missing. Pass the output_dir given to "
            "DataMapCallback, or use DataMap.from_cartography_jsonl() for allenai/cartography files."
        )
    return json.loads(path.read_text(encoding="utf-8"))


# --- the original cartography JSONL schema ---------------------------------------------------------------

def read_cartography_jsonl(folder: str | os.PathLike) -> list[tuple[int, list, np.ndarray, np.ndarray]]:
    """Read ``dynamics_epoch_{E}.jsonl`` files: a list of ``(epoch, guids, logits (N, C), gold (N,))``."""
    folder = Path(folder)
    if (folder / "training_dynamics").is_dir():
        folder = folder / "training_dynamics"
    pattern = re.compile(r"^dynamics_epoch_(\d+)\.jsonl$")
    files = sorted((int(m.group(1)), folder / m.group(0)) for m in map(pattern.match, os.listdir(folder)) if m)
    if not files:
        raise FileNotFoundError(f"No dynamics_epoch_<E>.jsonl files in {str(folder)!r}.")
    epochs = []
    for epoch, path in files:
        guids, logits, gold = [], [], []
        key = f"logits_epoch_{epoch}"
        with open(path, encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                record = json.loads(line)
                if key not in record or "gold" not in record or "guid" not in record:
                    raise ValueError(f"{path}:{line_number} lacks 'guid', 'gold' or {key!r}.")
                guids.append(record["guid"])
                logits.append(record[key])
                gold.append(record["gold"])
        epochs.append((epoch, guids, np.asarray(logits, dtype=np.float64), np.asarray(gold, dtype=np.int64)))
    return epochs


def write_cartography_jsonl(folder: str | os.PathLike, epoch: int, guids, logits: np.ndarray, gold) -> Path:
    """Write one epoch in the cartography schema, atomically; returns the file path."""
    path = Path(folder) / f"dynamics_epoch_{epoch}.jsonl"
    key = f"logits_epoch_{epoch}"

    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as handle:
            for guid, row, label in zip(guids, logits, gold, strict=True):
                guid = guid.item() if hasattr(guid, "item") else guid
                handle.write(json.dumps({"guid": guid, key: [float(x) for x in row], "gold": int(label)}) + "\n")

    atomic_write(path, write)
    return path
