"""The ``greennlp`` command: a data map of your own CSV, JSONL or Parquet file, and the rows a region selects,
without writing Python. ``greennlp map`` fine-tunes through :func:`greennlp.encoders.fine_tune` with a
``DataMapCallback`` and a ``BudgetCallback``; ``greennlp select`` writes the chosen rows of the same file.

    greennlp map reviews.csv --text-column review --label-column sentiment --output maps/reviews
    greennlp select maps/reviews reviews.csv --region ambiguous --fraction 0.33 --output ambiguous.jsonl
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from greennlp._files import atomic_write, write_json

#: Formats ``greennlp`` reads and writes, by file suffix.
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
#: Files ``greennlp map`` writes beside the map, and ``greennlp select`` reads.
SOURCE_FILE, LABELS_FILE = "source.json", "labels.json"
#: The id recorded for each row when no ``--id-column`` is given: its row number in DATA (0 = first row).
ROW_NUMBER = "row_number"
#: Regions ``--region`` accepts (the map's regions and their short names).
REGION_CHOICES = ("ambiguous", "easy-to-learn", "hard-to-learn", "easy", "hard")

logger = logging.getLogger(__name__)


class CommandError(ValueError):
    """A problem with what was passed on the command line; the message says what was passed and the fix."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``greennlp`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status (0 on success).

    Errors about the input (a missing column, a label out of range, another DATA file) are printed as one
    message and give status 2; ``--verbose`` shows their traceback instead.

    Examples
    --------
    >>> main(["map", "reviews.csv", "--text-column", "review", "--label-column", "sentiment",
    ...       "--output", "maps/reviews"])  # doctest: +SKIP
    0
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except (CommandError, ValueError, OSError, ImportError) as error:
        if args.verbose:
            raise
        print(f"greennlp {args.command}: error: {error}", file=sys.stderr)
        return 2


# --- the command line ------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    from greennlp import __version__

    parser = argparse.ArgumentParser(
        prog="greennlp", description="Data maps (dataset cartography) of your own data, and the rows they select.",
        epilog="Guide: docs/your_data.md. Each command has its own --help.")
    parser.add_argument("--version", action="version", version=f"greennlp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{map,select}")

    mapping = commands.add_parser(
        "map", help="fine-tune on DATA and write its data map, figures, label-error ranking and price tag",
        description="Fine-tune a classifier on DATA with DataMapCallback and BudgetCallback, then write into "
                    "--output the map (DataMap.load reads it), map.png, map.html, label_errors.csv, labels.json, "
                    "source.json and price_tag.json, and print the price tag.")
    mapping.add_argument("data", metavar="DATA", help="a .csv, .jsonl or .parquet file, one training example a row")
    mapping.add_argument("--text-column", default="text", help="column holding the text (default: text)")
    mapping.add_argument("--label-column", default="label",
                         help="column holding the class: ids 0..K-1, or names mapped to ids in sorted order "
                              "(default: label)")
    mapping.add_argument("--id-column", help="column holding a unique id per row (default: the row number in DATA)")
    mapping.add_argument("--output", required=True, metavar="DIR", help="folder to write the map into")
    # Help stays fast: torch and transformers are imported only when a command runs.
    mapping.add_argument("--model",
                         help="hub id or local folder of a pretrained encoder, or a miniature size (tiny, mini, "
                              "small, medium) trained from scratch (default: greennlp's default encoder, "
                              "sentence-transformers/all-MiniLM-L6-v2)")
    mapping.add_argument("--tokenizer", help="hub id or local folder of the tokenizer (default: the model's; a "
                                             "miniature size trains a WordPiece vocabulary on DATA)")
    mapping.add_argument("--epochs", type=int, default=3, help="training epochs, at least 2 (default: 3)")
    mapping.add_argument("--max-length", type=int, default=128, help="tokens kept per text (default: 128)")
    mapping.add_argument("--batch-size", type=int, default=32, help="examples per step (default: 32)")
    mapping.add_argument("--learning-rate", type=float,
                         help="default 1e-4 for a pretrained encoder, 5e-4 for a miniature size")
    mapping.add_argument("--seed", type=int, default=0, help="seed of the model's new weights and the data order")
    mapping.add_argument("--overwrite", action="store_true", help="replace a map already in DIR")
    mapping.add_argument("--verbose", action="store_true",
                         help="show everything: load reports, Trainer progress bars, logs, tracebacks")
    mapping.set_defaults(run=_run_map)

    selecting = commands.add_parser(
        "select", help="write the rows of DATA that a region of the map in DIR selects",
        description="Write the rows of DATA (all their columns, in DATA's order) that a region of the map in DIR "
                    "selects. Rows are matched by the ids `greennlp map` recorded, after checking that DATA holds "
                    "the rows the map was made from.")
    selecting.add_argument("map_dir", metavar="DIR", help="a folder written by `greennlp map`")
    selecting.add_argument("data", metavar="DATA", help="the file the map was made from (any of the formats)")
    selecting.add_argument("--region", default="ambiguous", choices=REGION_CHOICES,
                           help="region to select (default: ambiguous)")
    selecting.add_argument("--fraction", type=float,
                           help="share of all the map's examples to keep, from the region's best-ranked members "
                                "(e.g. 0.33); default: the whole region")
    selecting.add_argument("--seed", type=int, default=0, help="breaks ties in the ranking (default: 0)")
    selecting.add_argument("--output", required=True, metavar="SUBSET",
                           help="where to write the rows: .jsonl, .csv or .parquet")
    selecting.add_argument("--verbose", action="store_true", help="show logs and tracebacks")
    selecting.set_defaults(run=_run_select)
    return parser


# --- greennlp map ------------------------------------------------------------------------------------------------
def _run_map(args: argparse.Namespace) -> int:
    from greennlp.datamaps.storage import METADATA_FILE
    from greennlp.encoders.models import DEFAULT_PRETRAINED

    args.model = args.model or DEFAULT_PRETRAINED
    if args.epochs < 2:
        raise CommandError(f"--epochs {args.epochs}: a data map needs at least 2 epochs (each example observed "
                           "twice) to measure variability and so its regions; pass --epochs 2 or more.")
    output = Path(args.output)
    if (output / METADATA_FILE).exists() and not args.overwrite:
        raise CommandError(f"--output {str(output)!r} already holds a data map; pass --overwrite to replace it, or "
                           "another --output.")
    _check_roles(args.text_column, args.label_column, args.id_column)
    data = _read_data(args.data, text_column=args.text_column)
    _require_columns(data, [args.text_column, args.label_column, args.id_column], args.data)
    texts = _texts(data[args.text_column], args.text_column)
    class_ids, names, kind = _class_ids(data[args.label_column], args.label_column)
    id_column, ids = _row_ids(data, args.id_column)
    if id_column in (args.text_column, args.label_column):  # row numbers, under a name DATA's columns leave free
        id_column = f"greennlp_{ROW_NUMBER}"
    labels = [names[i] for i in class_ids] if kind == "names" else [str(i) for i in class_ids]

    price_tag = _train_with_map(args, output, texts, class_ids, len(names), id_column, ids)

    from greennlp.datamaps import DataMap

    data_map = DataMap.load(output)
    by_id = pd.DataFrame({"text": texts, "label": labels}, index=pd.Index(ids, name=id_column))
    written, skipped = _write_map_files(data_map, output, by_id, names if kind == "names" else None,
                                        title=f"{Path(args.data).name} ({args.model}, {len(data):,} examples)",
                                        verbose=args.verbose)
    write_json(output / LABELS_FILE, {"label_column": args.label_column, "labels": kind, "names": names})
    write_json(output / SOURCE_FILE, {
        "data": str(Path(args.data).resolve()), "format": FORMATS[Path(args.data).suffix.lower()],
        "rows": len(data), "columns": [str(c) for c in data.columns], "text_column": args.text_column,
        "label_column": args.label_column, "id_column": args.id_column, "map_id_column": id_column,
        "content_sha256": _content_digest(ids, labels, texts), "file_sha256": _file_digest(args.data),
        "model": args.model, "epochs": args.epochs, "max_length": args.max_length,
    })
    _print_map_results(args, data_map, output, written + [LABELS_FILE, SOURCE_FILE], skipped, price_tag)
    return 0


def _train_with_map(args, output: Path, texts: list[str], class_ids: np.ndarray, num_labels: int,
                    id_column: str, ids: list):
    """Fine-tune on the texts with a DataMapCallback (ids in ``id_column``) and a BudgetCallback; returns the
    price tag (``None`` when the run could not be priced)."""
    from datasets import Dataset

    from greennlp.budgets import BudgetCallback
    from greennlp.datamaps import DataMapCallback
    from greennlp.encoders import fine_tune, load_encoder, load_tokenizer, train_wordpiece_tokenizer
    from greennlp.encoders.models import MINIATURE_SIZES

    scratch = args.model in MINIATURE_SIZES
    train = Dataset.from_dict({args.text_column: texts, args.label_column: class_ids.tolist(), id_column: ids})
    with _quiet(not args.verbose):
        if args.tokenizer:
            tokenizer = load_tokenizer(args.tokenizer)
        elif scratch:
            tokenizer = train_wordpiece_tokenizer(texts, vocab_size=8000)
        else:
            tokenizer = load_tokenizer(args.model)
        model = load_encoder(args.model, num_labels=num_labels, tokenizer=tokenizer if scratch else None,
                             seed=args.seed)
    budget = BudgetCallback(output_dir=output, run_name=f"greennlp map {Path(args.data).name}")
    bar = _step_bar(f"training {args.model}", disable=args.verbose)
    try:
        with _quiet(not args.verbose):
            fine_tune(model, tokenizer, train, epochs=args.epochs, max_length=args.max_length,
                      learning_rate=args.learning_rate or (5e-4 if scratch else 1e-4), batch_size=args.batch_size,
                      seed=args.seed, text_column=args.text_column, label_column=args.label_column,
                      keep_columns=(id_column,), progress=args.verbose,
                      callbacks=[DataMapCallback(output, id_column=id_column, overwrite=args.overwrite), budget, bar])
    finally:
        bar.close()
    return budget.price_tag_


def _write_map_files(data_map, output: Path, by_id: pd.DataFrame, label_names: list[str] | None, *, title: str,
                     verbose: bool) -> tuple[list[str], str | None]:
    """Write map.png, map.html (when plotly is installed) and label_errors.csv; returns the names written and
    why map.html was not (``None`` when it was)."""
    from tqdm.auto import tqdm

    written, skipped = [], None
    with tqdm(total=3, desc="writing map files", unit="file", disable=verbose, leave=False) as bar:
        data_map.plot(output / "map.png", title=title)
        written.append("map.png")
        bar.update()
        try:
            data_map.plot_interactive(output / "map.html", texts=by_id["text"], label_names=label_names,
                                      title=title)
            written.append("map.html")
        except ImportError:
            (output / "map.html").unlink(missing_ok=True)  # never leave an older run's HTML beside a new map
            skipped = ("map.html needs plotly: pip install 'greennlp[interactive]' (or pip install plotly), then "
                       f"python -c \"from greennlp.datamaps import DataMap; DataMap.load('{output}')"
                       f".plot_interactive('{output / 'map.html'}')\" draws it from this map without training again")
        bar.update()
        _write_label_errors(data_map, output / "label_errors.csv", by_id)
        written.append("label_errors.csv")
        bar.update()
    return written, skipped


def _write_label_errors(data_map, path: Path, by_id: pd.DataFrame) -> None:
    """Every recorded example, most likely mislabelled first: id, rank, score (area under the margin), gold (the
    label as DATA writes it), text, then the map's metrics."""
    suspects = data_map.label_errors()
    table = pd.DataFrame({"id": suspects.index, "rank": suspects["rank"].to_numpy(),
                          "score": suspects["score"].to_numpy(),
                          "gold": by_id["label"].reindex(suspects.index).to_numpy(),
                          "text": by_id["text"].reindex(suspects.index).to_numpy()})
    for column in ("confidence", "aum", "correctness", "region"):
        if column in suspects.columns:
            table[column] = suspects[column].to_numpy()
    atomic_write(path, lambda temporary: table.to_csv(temporary, index=False))


def _print_map_results(args, data_map, output: Path, written: list[str], skipped: str | None, price_tag) -> None:
    regions = data_map.table["region"].value_counts()
    counts = ", ".join(f"{name} {int(regions.get(name, 0)):,}" for name in ("easy-to-learn", "ambiguous",
                                                                           "hard-to-learn"))
    print(f"data map of {len(data_map):,} examples of {args.data} ({args.model}, {args.epochs} epochs): {output}")
    print(f"  regions: {counts}")
    print(f"  files: {', '.join(written)}")
    if skipped:
        print(f"  {skipped}")
    if price_tag is None:
        print("  price: not measured (a training step failed; see the log with --verbose)")
    else:
        print(f"  price: {price_tag.wall_time_s:.1f} s, {price_tag.train_flops:.3g} FLOPs "
              f"({price_tag.examples_seen:,} examples, {price_tag.tokens_seen:,} tokens seen on "
              f"{price_tag.device}); {output / 'price_tag.json'}")
    print(f"  next: greennlp select {output} {args.data} --region ambiguous --fraction 0.33 --output subset.jsonl")


# --- greennlp select ---------------------------------------------------------------------------------------------
def _run_select(args: argparse.Namespace) -> int:
    from datasets import Dataset

    from greennlp.datamaps import DataMap
    from greennlp.filters import select_by_region

    folder = Path(args.map_dir)
    suffix = Path(args.output).suffix.lower()
    if suffix not in FORMATS:
        raise CommandError(f"--output {args.output!r}: write the subset as one of {sorted(FORMATS)} (the suffix "
                           "picks the format).")
    if Path(args.output).resolve() == Path(args.data).resolve():
        raise CommandError(f"--output {args.output!r} is DATA itself; write the subset to a new file.")
    source = _read_source(folder)
    data = _read_data(args.data, text_column=source["text_column"])
    _check_same_data(data, source, args.data, folder)
    data_map = DataMap.load(folder)
    id_column = source["map_id_column"]
    ids = list(range(len(data))) if source["id_column"] is None else data[source["id_column"]].tolist()
    id_rows = Dataset.from_dict({id_column: ids})
    chosen = select_by_region(id_rows, data_map, args.region, fraction=args.fraction, seed=args.seed, return_ids=True)
    # The library's one matching of map examples to dataset rows (by id; every id must be there exactly once).
    rows = data_map.dataset_rows(id_rows, id_column=id_column)
    subset = data.iloc[np.sort(rows.loc[chosen].to_numpy())]
    _write_data(subset, args.output)
    share = "the whole region" if args.fraction is None else f"fraction {args.fraction:g} of {len(data_map):,}"
    print(f"wrote {len(subset):,} rows of {args.data} ({args.region}, {share}) to {args.output}")
    return 0


def _read_source(folder: Path) -> dict:
    path = folder / SOURCE_FILE
    if not path.is_file():
        raise CommandError(
            f"{str(folder)!r} has no {SOURCE_FILE}, so it was not written by `greennlp map` and DATA cannot be "
            "checked against it. Make the map with `greennlp map`, or select in Python with "
            "greennlp.filters.select_by_region(dataset, DataMap.load(DIR), region, id_column=...).")
    return json.loads(path.read_text(encoding="utf-8"))


def _check_same_data(data: pd.DataFrame, source: dict, path: str, folder: Path) -> None:
    """Refuse a DATA whose (id, label, text) rows are not those the map was made from (any format, any order when
    the ids come from an id column; the same order when they are row numbers)."""
    made_from = f"{source['data']} ({source['rows']:,} rows, recorded in {str(folder / SOURCE_FILE)!r})"
    columns = [source["text_column"], source["label_column"], source["id_column"]]
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        raise CommandError(f"DATA {path!r} has no column {missing} (its columns: {list(map(str, data.columns))}), "
                           f"but the map in {str(folder)!r} was made from {made_from} with those columns. Pass the "
                           "file the map was made from, or map this file with `greennlp map`.")
    texts = _texts(data[source["text_column"]], source["text_column"])
    class_ids, names, kind = _class_ids(data[source["label_column"]], source["label_column"])
    labels = [names[i] for i in class_ids] if kind == "names" else [str(i) for i in class_ids]
    _, ids = _row_ids(data, source["id_column"])
    if _content_digest(ids, labels, texts) != source["content_sha256"]:
        by_id = source["id_column"] is not None
        how = (f"it has {len(data):,} rows" if len(data) != source["rows"] else
               f"its {len(data):,} rows differ in text, label or {'id' if by_id else 'order'}")
        recorded = f"values of {source['id_column']!r}" if by_id else "row numbers"
        raise CommandError(
            f"DATA {path!r} is not the data the map in {str(folder)!r} was made from: that was {made_from}, and "
            f"{how}. The ids the map recorded ({recorded}) name rows of that data only; pass that file (in any of "
            "the formats), or map this file with `greennlp map`.")


# --- reading and checking DATA -----------------------------------------------------------------------------------
def _read_data(path: str | os.PathLike, *, text_column: str) -> pd.DataFrame:
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise CommandError(f"DATA {str(path)!r}: greennlp reads {sorted(FORMATS)} files; convert it to one of them "
                           "(e.g. pandas: frame.to_csv('data.csv', index=False)).")
    if not path.is_file():
        raise CommandError(f"DATA {str(path)!r} does not exist (working folder: {os.getcwd()}).")
    if kind == "csv":  # the text stays text, even where it looks like a number
        frame = pd.read_csv(path, dtype={text_column: str})
    elif kind == "jsonl":
        frame = pd.read_json(path, lines=True, dtype=False)
    else:
        frame = pd.read_parquet(path)
    if len(frame) == 0:
        raise CommandError(f"DATA {str(path)!r} has no rows.")
    return frame.reset_index(drop=True)


def _check_roles(text_column: str, label_column: str, id_column: str | None) -> None:
    roles = {"--text-column": text_column, "--label-column": label_column, "--id-column": id_column}
    given = [value for value in roles.values() if value is not None]
    if len(set(given)) < len(given):
        raise CommandError(f"Each column has one role; got {', '.join(f'{k} {v!r}' for k, v in roles.items() if v)}. "
                           "Name a different column for each.")
    if id_column == "row":
        raise CommandError("--id-column 'row': greennlp reserves the name 'row' for maps keyed by row position. "
                           "Rename that column in DATA (e.g. 'row_id'), or leave --id-column out to identify rows "
                           "by their row number.")


def _require_columns(data: pd.DataFrame, columns: list[str | None], path: str) -> None:
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        options = {"text": "--text-column", "label": "--label-column", "id": "--id-column"}
        raise CommandError(f"DATA {path!r} has no column {missing[0]!r}; its columns are "
                           f"{list(map(str, data.columns))}. Name the right ones with "
                           f"{', '.join(options.values())}.")


def _texts(values: pd.Series, column: str) -> list[str]:
    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        raise CommandError(f"Row {int(missing[0])} of DATA (counting from 0, header excluded) has no text in column "
                           f"{column!r}{_more(missing)}. Fill it in or drop those rows (pandas: "
                           f"frame.dropna(subset=[{column!r}])).")
    return [str(value) for value in values]


def _class_ids(values: pd.Series, column: str) -> tuple[np.ndarray, list[str], str]:
    """Class ids 0..K-1 of the labels in ``values``, the K class names, and ``"ids"`` (integer labels, used as
    they are) or ``"names"`` (text labels, numbered in sorted order)."""
    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        raise CommandError(f"Row {int(missing[0])} of DATA (counting from 0, header excluded) has no label in column "
                           f"{column!r}{_more(missing)}; every training example needs its class. Fill it in or "
                           f"drop those rows (pandas: frame.dropna(subset=[{column!r}])).")
    if pd.api.types.is_bool_dtype(values):
        values = values.astype(np.int64)
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype=np.float64)
        fractional = np.flatnonzero(numbers != np.round(numbers))
        if len(fractional):
            row = int(fractional[0])
            raise CommandError(f"Row {row} of DATA (counting from 0, header excluded) has label {numbers[row]:g} in "
                               f"column {column!r}: labels are "
                               "classes, given as ids 0..K-1 or as names; regression targets are not supported.")
        ids = numbers.astype(np.int64)
        present = np.unique(ids)
        count = len(present)
        _require_classes(present, column)
        outside = np.flatnonzero((ids < 0) | (ids >= count))
        if len(outside):
            row = int(outside[0])
            raise CommandError(
                f"Row {row} of DATA (counting from 0, header excluded) has label {int(ids[row])} in column "
                f"{column!r}, outside 0..{count - 1}{_more(outside)}: integer labels are class ids 0..K-1, and "
                f"this column holds K = {count} classes ({_listing(present)}). Renumber them 0..{count - 1} (e.g. "
                "subtract 1 from labels that start at 1), or write the labels as names, which greennlp numbers in "
                "sorted order.")
        names, kind = [str(i) for i in range(count)], "ids"
    else:
        not_text = [row for row, value in enumerate(values) if not isinstance(value, str)]
        if not_text:
            row = not_text[0]
            raise CommandError(f"Column {column!r} mixes label names and other values (row {row}: "
                               f"{_plain(values.iloc[row])!r}); write every label as a name, or every label as a "
                               "class id 0..K-1.")
        names = sorted(set(values))
        _require_classes(names, column)
        ids, kind = pd.Index(names).get_indexer(values).astype(np.int64), "names"
    return ids, names, kind


def _require_classes(classes, column: str) -> None:
    if len(classes) < 2:
        raise CommandError(f"Column {column!r} holds one class ({_plain(classes[0])!r}) in every row; a classifier, "
                           "and its data map, need at least 2. Check --label-column.")


def _row_ids(data: pd.DataFrame, id_column: str | None) -> tuple[str, list]:
    """The column name the map records ids under, and each row's id: ``id_column``'s values (whole numbers or
    text, unique, none missing) or the row numbers."""
    if id_column is None:
        return ROW_NUMBER, list(range(len(data)))
    values = data[id_column]
    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        raise CommandError(f"Row {int(missing[0])} of DATA has no id in --id-column {id_column!r}{_more(missing)}; "
                           "give every row an id, or leave --id-column out to identify rows by their row number.")
    if pd.api.types.is_float_dtype(values) or not (pd.api.types.is_integer_dtype(values)
                                                    or all(isinstance(v, str) for v in values)):
        raise CommandError(f"--id-column {id_column!r} holds {values.dtype} values (e.g. "
                           f"{_plain(values.iloc[0])!r}); ids must be whole numbers or text.")
    duplicated = values[values.duplicated()]
    if len(duplicated):
        raise CommandError(f"--id-column {id_column!r} repeats ids (e.g. {_plain(duplicated.iloc[0])!r} at rows "
                           f"{np.flatnonzero((values == duplicated.iloc[0]).to_numpy())[:3].tolist()}); each row "
                           "needs its own id, or leave --id-column out to identify rows by their row number.")
    return id_column, [_plain(v) for v in values]


def _content_digest(ids: list, labels: list[str], texts: list[str]) -> str:
    """SHA-256 of the (id, label, text) rows, in id order: the same for the same rows in any file format."""
    rows = sorted(json.dumps([str(i), label, text], ensure_ascii=False) for i, label, text in zip(
        ids, labels, texts, strict=True))
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.encode("utf-8") + b"\n")
    return digest.hexdigest()


def _file_digest(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_data(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    kind = FORMATS[Path(path).suffix.lower()]
    if kind == "csv":
        atomic_write(path, lambda temporary: frame.to_csv(temporary, index=False))
    elif kind == "jsonl":
        atomic_write(path, lambda temporary: frame.to_json(temporary, orient="records", lines=True,
                                                           force_ascii=False))
    else:
        atomic_write(path, lambda temporary: frame.to_parquet(temporary, index=False))


def _plain(value):
    """A numpy scalar as the Python value it holds (for messages and JSON)."""
    return value.item() if hasattr(value, "item") else value


def _more(rows: np.ndarray) -> str:
    return f" (and {len(rows) - 1:,} more rows)" if len(rows) > 1 else ""


def _listing(values: np.ndarray, shown: int = 10) -> str:
    head = ", ".join(str(v) for v in values[:shown])
    return head + (", ..." if len(values) > shown else "")


# --- quiet by default --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """While the block runs: transformers logs errors only (no LOAD REPORT for the classification head greennlp
    adds), ``datasets`` and transformers show no progress bars, and what libraries print to standard output is
    dropped (the Trainer's final metrics dict; the blank lines the tokenizers trainer writes from Rust straight to
    file descriptor 1). Everything is restored afterwards; our own progress bars, on standard error, stay."""
    if not enabled:
        yield
        return
    import datasets
    import transformers

    verbosity = transformers.logging.get_verbosity()
    bars = datasets.is_progress_bar_enabled(), transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    transformers.logging.disable_progress_bar()  # "Loading weights"
    try:
        with _stdout_dropped():
            yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars[0]:
            datasets.enable_progress_bars()
        if bars[1]:
            transformers.logging.enable_progress_bar()


@contextlib.contextmanager
def _stdout_dropped() -> Iterator[None]:
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1 (an embedded interpreter): drop Python's output only
        saved = None
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        if saved is not None:
            os.dup2(null, 1)
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
        os.close(null)


def _step_bar(description: str, *, disable: bool):
    """A Trainer callback showing one tqdm bar over the run's optimizer steps (on standard error), in place of the
    Trainer's own bars and printed logs; call its ``close()`` when training ends or fails."""
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class StepBar(TrainerCallback):
        def __init__(self):
            self.bar = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.close()
            self.bar = tqdm(total=state.max_steps, desc=description, unit="step", disable=disable, file=sys.stderr)

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update()

        def on_train_end(self, args, state, control, **kwargs):
            self.close()

        def close(self):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return StepBar()


if __name__ == "__main__":
    sys.exit(main())
