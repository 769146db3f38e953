"""On-disk format of a data map: one Parquet file per epoch plus ``metadata.json``, all written atomically.

Layout of ``output_dir``::

    metadata.json            mode, epochs, num_labels, id column, model name, created, epoch_records
                             ({"0": {"recorded": 45, "examples": 45, "complete": true}, ...}: per epoch, the
                             examples recorded in every snapshot, of how many, and whether the record covers the
                             whole epoch), save_id (a new one at each DataMap.save), ...
    examples.parquet         one row per example: row, [id], [fingerprint] (token fingerprint, for matching a
                             reordered dataset by content)
    dynamics/epoch_000.parquet   columns: row, [id], gold, p_gold, correct, margin, snapshot, [probs]
    partial/step_00000120.parquet   the record of an unfinished epoch at a checkpoint (for resuming), with
                                    its epoch and completeness in the file's schema metadata

Also reads and writes the original cartography JSONL schema (``dynamics_epoch_{E}.jsonl`` with ``guid``,
``logits_epoch_{E}``, ``gold``) so that maps made with allenai/cartography can be analysed here.
"""
from __future__ import annotations

import hashlib
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
_PARTIAL_FILE = re.compile(r"^step_(\d+)\.parquet$")
_METADATA_KEY = "greennlp"


def write_table(path: str | os.PathLike, columns: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
    """Write a dict of columns (numpy arrays, or lists for list-valued columns) as Parquet, atomically.

    ``metadata`` (JSON-serialisable) is stored in the file's schema, so it is renamed into place with the rows.
    """
    table = pa.table({name: _to_arrow(values) for name, values in columns.items()})
    if metadata is not None:
        table = table.replace_schema_metadata({_METADATA_KEY: json.dumps(metadata)})
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


#: Columns every epoch file holds (``id`` and ``probs`` are optional).
EPOCH_COLUMNS = ("row", "gold", "p_gold", "correct", "margin", "snapshot")


class FileChangedError(ValueError):
    """A file is no longer the one read before (its contents' digest differs)."""


def read_table(path: str | os.PathLike, *, required: tuple[str, ...] = (), digest: str | None = None,
               digests: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """Read a Parquet file written by :func:`write_table`; list columns come back as 2-D arrays.

    A damaged file, or one without a ``required`` column, raises ``ValueError`` naming the file. The bytes parsed
    are the bytes hashed: ``digests[str(path)]`` receives their SHA-256, and a ``digest`` that differs from it
    raises :class:`FileChangedError` before the file is parsed.
    """
    data = Path(path).read_bytes()
    found = hashlib.sha256(data).hexdigest()
    if digest is not None and found != digest:
        raise FileChangedError(f"{str(path)!r} has changed since it was first read.")
    if digests is not None:
        digests[str(path)] = found
    try:
        table = pq.read_table(pa.BufferReader(data))
        columns = {}
        for name in table.column_names:
            column = table.column(name).combine_chunks()
            if pa.types.is_list(column.type):
                width = len(column[0]) if len(column) else 0
                columns[name] = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), width)
            else:
                columns[name] = column.to_numpy(zero_copy_only=False)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError, ValueError) as error:  # pyarrow's messages do not name the file
        raise ValueError(
            f"{str(path)!r} is not a readable Parquet file ({type(error).__name__}: {error}). It is damaged or was "
            "not written by greennlp (it is written atomically, so a disk error or an outside copy is likely); "
            "restore it from a backup or record the map again."
        ) from error
    missing = [name for name in required if name not in columns]
    if missing:
        raise ValueError(
            f"{str(path)!r} lacks the column(s) {missing} (it has {list(columns)}; a data-map epoch file needs "
            f"{list(required)}). It was not written by DataMapCallback or DataMap.save; record the map again, or "
            "build it with DataMap.from_arrays / from_logits."
        )
    return columns


def epoch_path(output_dir: str | os.PathLike, epoch: int) -> Path:
    return Path(output_dir) / DYNAMICS_DIR / f"epoch_{epoch:03d}.parquet"


def partial_path(output_dir: str | os.PathLike, global_step: int) -> Path:
    return Path(output_dir) / PARTIAL_DIR / f"step_{global_step:08d}.parquet"


def partial_steps(output_dir: str | os.PathLike) -> list[int]:
    """Global steps with a saved partial record under ``output_dir``, in order."""
    folder = Path(output_dir) / PARTIAL_DIR
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for m in map(_PARTIAL_FILE.match, os.listdir(folder)) if m)


def write_partial(output_dir: str | os.PathLike, global_step: int, columns: dict[str, Any],
                  state: dict[str, Any]) -> Path:
    """Save the record of an unfinished epoch at a checkpoint, with the ``state`` a resumed run needs (its
    ``epoch`` above all) in the same file, so the two can never disagree."""
    path = partial_path(output_dir, global_step)
    write_table(path, columns, metadata={**state, "global_step": global_step})
    return path


def read_partial(output_dir: str | os.PathLike, global_step: int) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """The ``(state, columns)`` saved by :func:`write_partial` at ``global_step``; ``None`` when there is none.

    Files of earlier versions carry no state: their epoch is read from the ``epoch`` column (``None`` when empty).
    """
    path = partial_path(output_dir, global_step)
    if not path.is_file():
        return None
    stored = (pq.read_schema(path).metadata or {}).get(_METADATA_KEY.encode())
    columns = read_table(path)
    epochs = columns.pop("epoch", np.empty(0, dtype=np.int32))
    if stored is not None:
        state = json.loads(stored)
    else:
        state = {"epoch": int(epochs[0]) if len(epochs) else None, "global_step": global_step}
    return state, columns


def list_epochs(output_dir: str | os.PathLike) -> list[int]:
    """Epoch indices with a finished record under ``output_dir``, in order."""
    folder = Path(output_dir) / DYNAMICS_DIR
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for m in map(_EPOCH_FILE.match, os.listdir(folder)) if m)


def read_metadata(output_dir: str | os.PathLike, *, data: bytes | None = None) -> dict[str, Any]:
    """The map's ``metadata.json``, checked; parsed from ``data`` (its bytes, read before) when given."""
    path = Path(output_dir) / METADATA_FILE
    if data is None and not path.is_file():
        raise FileNotFoundError(
            f"No data map in {str(output_dir)!r}: {METADATA_FILE} is missing. Pass the output_dir given to "
            "DataMapCallback, or use DataMap.from_cartography_jsonl() for allenai/cartography files."
        )
    try:
        metadata = json.loads(path.read_bytes() if data is None else data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{str(path)!r} is not valid JSON ({error}); it is truncated or damaged. It is written last and "
            "atomically, so the map was probably edited or copied while being written: restore the file, or "
            "record the map again."
        ) from error
    num_examples = metadata.get("num_examples") if isinstance(metadata, dict) else None
    if not isinstance(num_examples, int) or isinstance(num_examples, bool) or num_examples < 0:
        raise ValueError(
            f"{str(path)!r} does not say how many examples the map has (an object with a non-negative integer "
            f"'num_examples' is needed; got {num_examples!r}). Restore the file, or record the map again."
        )
    return metadata


# --- the original cartography JSONL schema ---------------------------------------------------------------

def read_cartography_jsonl(folder: str | os.PathLike) -> list[tuple[int, list, np.ndarray, np.ndarray]]:
    """Read ``dynamics_epoch_{E}.jsonl`` files: a list of ``(epoch, guids, logits (N, C), gold (N,))``.

    Every line is checked as it is read, and a problem raises ``ValueError`` naming the file and line: each line
    is a JSON object with a ``guid`` (all strings or all integers, once per file), ``logits_epoch_{E}`` (finite
    numbers, one per class, as many on every line) and ``gold`` (a class id, the same in every epoch); every guid
    of a later epoch is in the first epoch's file.
    """
    folder = Path(folder)
    if (folder / "training_dynamics").is_dir():
        folder = folder / "training_dynamics"
    pattern = re.compile(r"^dynamics_epoch_(\d+)\.jsonl$")
    files = sorted((int(m.group(1)), folder / m.group(0)) for m in map(pattern.match, os.listdir(folder)) if m)
    if not files:
        raise FileNotFoundError(f"No dynamics_epoch_<E>.jsonl files in {str(folder)!r}.")
    first: dict[Any, tuple[int, str]] = {}  # guid -> (gold, "file:line") in the first epoch
    shape: dict[str, Any] = {}  # number of classes and guid type, with the line that set them
    epochs = []
    for epoch, path in files:
        guids, logits, gold = _read_cartography_file(path, epoch, first, shape)
        epochs.append((epoch, guids, np.asarray(logits, dtype=np.float64), np.asarray(gold, dtype=np.int64)))
    return epochs


def _read_cartography_file(path: Path, epoch: int, first: dict, shape: dict) -> tuple[list, list, list]:
    key = f"logits_epoch_{epoch}"
    is_first = not first
    guids, logits, gold = [], [], []
    seen: dict[Any, int] = {}  # guid -> line in this file
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, 1):
            where = f"{path}:{line_number}"
            try:
                record = json.loads(raw.decode("utf-8")) if raw.strip() else None
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise ValueError(
                    f"{where}: not a valid JSON line ({getattr(error, 'msg', error)}, column "
                    f"{getattr(error, 'colno', '?')}); the file is truncated or damaged. Write it again "
                    "(allenai/cartography, or DataMap.to_cartography_jsonl)."
                ) from None
            if record is None:
                continue
            if not isinstance(record, dict) or not {"guid", "gold", key} <= record.keys():
                raise ValueError(f"{where} lacks 'guid', 'gold' or {key!r}: each line must be a JSON object with "
                                 "all three (the allenai/cartography schema).")
            guid, label, row = record["guid"], record["gold"], record[key]
            if isinstance(guid, bool) or not isinstance(guid, (str, int)):
                raise ValueError(f"{where}: guid {guid!r} is not a string or an integer; give every example its "
                                 "own id.")
            kind = shape.setdefault("guid", (type(guid), where))
            if kind[0] is not type(guid):
                raise ValueError(f"{where}: guid {guid!r} is a {type(guid).__name__}, but the guid at {kind[1]} is "
                                 f"a {kind[0].__name__}; use one type for all guids.")
            if guid in seen:
                raise ValueError(f"{where}: guid {guid!r} appears again (first at line {seen[guid]}); an example is "
                                 "recorded once per epoch. Remove the repeated line or give the examples distinct "
                                 "guids.")
            seen[guid] = line_number
            if (not isinstance(row, list) or not row
                    or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in row)
                    or not np.isfinite(row).all()):
                shown = repr(row) if len(repr(row)) < 80 else repr(row)[:77] + "..."
                raise ValueError(f"{where}: {key} must be a non-empty list of finite numbers, one per class; got "
                                 f"{shown}.")
            classes = shape.setdefault("classes", (len(row), where))
            if len(row) != classes[0]:
                raise ValueError(f"{where}: {key} has {len(row)} logits, but the line at {classes[1]} has "
                                 f"{classes[0]}; every line needs one logit per class.")
            if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(row):
                raise ValueError(f"{where}: gold {label!r} is not a class id: with {len(row)} logits it must be an "
                                 f"integer in [0, {len(row) - 1}].")
            if is_first:
                first[guid] = (label, where)
            elif guid not in first:
                raise ValueError(f"{where}: guid {guid!r} is not in the first epoch's file; every example of a "
                                 "later epoch must be recorded in the first.")
            elif first[guid][0] != label:
                raise ValueError(f"{where}: gold of guid {guid!r} is {label}, but {first[guid][1]} gives "
                                 f"{first[guid][0]}; an example's gold label cannot change between epochs (are the "
                                 "files from different runs or datasets?).")
            guids.append(guid)
            logits.append(row)
            gold.append(label)
    if not guids:
        raise ValueError(f"{str(path)!r} holds no records; remove it or write it again.")
    return guids, logits, gold


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
