"""Find the row of a dataset that holds each example of a data map: by id, by content or by checked position.

The one place where a map meets a dataset; every ``select_*`` function goes through :func:`dataset_rows`. A map is
keyed either by its examples' own ids (the index is named after the dataset column that holds them) or by the
row positions of the dataset it was recorded on (index named ``row``). Position-keyed maps are matched by
content (token fingerprints) when the map has them and the dataset is tokenized; otherwise by position, after
checking the dataset's length and every gold label (a dataset without a label column is refused). Whatever cannot
be matched raises ``ValueError``: never fewer rows, never rows of other data.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .matching import LABEL_COLUMNS, dataset_fingerprints

ROW = "row"  #: index name of a map keyed by row positions


def dataset_rows(keys: pd.Index, dataset, *, id_column: str | None = None, fingerprints: np.ndarray | None = None,
                 gold: np.ndarray | None = None) -> np.ndarray:
    """Row of ``dataset`` for each entry of ``keys`` (a map's or a score Series' index), in ``keys`` order.

    ``id_column`` overrides the column named by ``keys.name``; ``fingerprints`` and ``gold`` (aligned with ``keys``)
    let a position-keyed map match a reordered dataset by content, or check that it is in the recorded order.
    """
    name = id_column if id_column is not None else keys.name
    if name is not None and name != ROW:
        return rows_by_id(keys, dataset, name)
    if id_column is None and keys.name is None and not _is_positions(keys):
        raise ValueError(
            f"These examples are keyed by ids (e.g. {_examples(keys)}), but no dataset column is named for them. "
            f"Pass id_column= naming the column of the dataset that holds them{_holder_hint(keys, dataset)}."
        )
    if fingerprints is not None and "input_ids" in dataset.column_names:
        return rows_by_content(fingerprints, gold, dataset)
    return rows_by_position(keys, gold, dataset)


def rows_by_id(ids: pd.Index, dataset, id_column: str) -> np.ndarray:
    """Row of each id in ``dataset[id_column]``; every id must be there exactly once."""
    if id_column not in dataset.column_names:
        raise ValueError(
            f"The examples are keyed by ids (e.g. {_examples(ids)}) expected in column {id_column!r}, which the "
            f"dataset lacks (columns: {dataset.column_names}). Pass id_column= naming the column that holds "
            f"them{_holder_hint(ids, dataset)}."
        )
    values = pd.Index(dataset[id_column])
    wanted, have = _kind(ids), _kind(values)
    if wanted != have:
        if {wanted, have} != {"integer", "string"}:
            raise ValueError(f"The map's ids are {wanted} (e.g. {_examples(ids)}) but column {id_column!r} holds "
                             f"{have} values (e.g. {_examples(values)}); they cannot be compared.")
        ids, values = ids.astype(str), values.astype(str)  # 7 and "7" name one example; all must still match
    if not values.is_unique:
        raise ValueError(f"Column {id_column!r} holds duplicate ids (e.g. "
                         f"{_examples(values[values.duplicated()])}); ids must name one row each.")
    rows = values.get_indexer(ids)
    missing = rows < 0
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} of {len(ids)} example ids are not in column {id_column!r} (e.g. "
            f"{_examples(ids[missing])}; the column holds e.g. {_examples(values)}). Pass the dataset the map was "
            f"recorded on, or id_column= naming the column that holds these ids{_holder_hint(ids, dataset)}."
        )
    return rows.astype(np.int64)


def rows_by_content(fingerprints: np.ndarray, gold: np.ndarray | None, dataset) -> np.ndarray:
    """Row of each example by its token fingerprint (and gold label when both sides have one); identical
    examples are interchangeable, so the k-th copy in the map takes the k-th copy in the dataset."""
    found, labels = dataset_fingerprints(dataset)
    use_labels = labels is not None and gold is not None and (np.asarray(gold) >= 0).all()
    if len(found) == len(fingerprints) and np.array_equal(found, fingerprints) and (
            not use_labels or np.array_equal(labels, gold)):
        return np.arange(len(found), dtype=np.int64)  # the recorded order: nothing to match
    wanted = pd.DataFrame({"fingerprint": fingerprints, "label": gold if use_labels else 0})
    have = pd.DataFrame({"fingerprint": found, "label": labels if use_labels else 0, "row": np.arange(len(found))})
    for frame in (wanted, have):
        frame["copy"] = frame.groupby(["fingerprint", "label"]).cumcount()
    rows = wanted.merge(have, on=["fingerprint", "label", "copy"], how="left")["row"]
    missing = rows.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} of the map's {len(fingerprints)} examples have no row in the dataset with the "
            f"same tokens{' and label' if use_labels else ''} (e.g. map rows {np.flatnonzero(missing)[:3].tolist()}). "
            "Pass the training dataset tokenized as it was for training (any order), or record the map with "
            "DataMapCallback(id_column=...) and select by id."
        )
    return rows.to_numpy(dtype=np.int64)


def rows_by_position(keys: pd.Index, gold: np.ndarray | None, dataset) -> np.ndarray:
    """Rows are positions: the dataset must be as long as the map and carry the map's gold labels, every one
    checked. A map (``gold`` given) is refused for a dataset without a label column or when it has no gold label to
    check: a map recorded on other data would otherwise select rows of the wrong data without a word. ``gold=None``
    (scores given by row position, no map) trusts the positions, as the caller stated them."""
    positions = np.asarray(keys, dtype=np.int64)
    if len(dataset) != len(positions):
        raise ValueError(
            f"The map (or scores) describes {len(positions)} examples by row position, but the dataset has "
            f"{len(dataset)} rows. Pass the dataset the map was recorded on, in the same order, or record the map "
            "with DataMapCallback(id_column=...) and select by id."
        )
    label_column = next((c for c in LABEL_COLUMNS if c in dataset.column_names), None)
    if gold is not None and label_column is None:
        raise ValueError(
            f"This map is keyed by row position and the dataset has no label column to check it against (its "
            f"columns: {list(dataset.column_names)}; a label column is one of {list(LABEL_COLUMNS)}), so rows would "
            "be matched by position unchecked. Pass the dataset the map was recorded on with its gold labels in a "
            "column named 'label' (e.g. dataset.rename_column('<your label column>', 'label')), or tokenized as "
            "for training so rows match by content ('input_ids'), or record the map with "
            "DataMapCallback(id_column=...) and pass id_column= naming that column."
        )
    if gold is not None:
        labels = np.asarray(dataset[label_column])
        known = np.asarray(gold) >= 0
        if not known.any():
            raise ValueError(
                f"This map is keyed by row position but holds no gold label to check the dataset's {label_column!r} "
                "against (no example was recorded), so rows would be matched by position unchecked. Record the map "
                "with DataMapCallback(id_column=...) and pass id_column= naming that column."
            )
        differ = np.flatnonzero(known & (labels[positions] != np.asarray(gold)))
        if len(differ):
            raise ValueError(
                f"The dataset's {label_column!r} differs from the map's gold label at {len(differ)} of "
                f"{len(positions)} rows (e.g. rows {positions[differ[:3]].tolist()}): it is not in the order the map "
                "was recorded in (shuffled?) or not the same data. Rows are matched by position here; pass the "
                "dataset in its recorded order, tokenize it as for training so rows match by content, or record "
                "the map with DataMapCallback(id_column=...)."
            )
    return positions


def _is_positions(keys: pd.Index) -> bool:
    return isinstance(keys, pd.RangeIndex) or (
        _kind(keys) == "integer" and len(keys) > 0 and keys.min() >= 0 and keys.is_unique and keys.max() < len(keys))


def _kind(values: pd.Index) -> str:
    kind = pd.api.types.infer_dtype(values, skipna=True)
    return {"mixed-integer": "mixed", "empty": "integer"}.get(kind, kind)


def _examples(values) -> list:
    return [value.item() if hasattr(value, "item") else value for value in list(values[:3])]


def _holder_hint(ids: pd.Index, dataset) -> str:
    """Name the dataset columns (if any) that hold every one of ``ids``: the likely ``id_column``."""
    holders = []
    for column, feature in dataset.features.items():
        if getattr(feature, "dtype", None) not in ("string", "large_string") and not str(
                getattr(feature, "dtype", "")).startswith(("int", "uint")):
            continue
        values = pd.Index(dataset[column])
        if values.is_unique and ids.isin(values).all():
            holders.append(column)
    return f"; {holders[0]!r} holds all of them" if len(holders) == 1 else (
        f"; these columns hold all of them: {holders}" if holders else "")
