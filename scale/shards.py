"""Read the packed Parquet shards written by :class:`~greennlp.scale.ContentWordPacker` back as one ``Dataset``
for pretraining (no datatrove needed to read them), and the record of which shards a run wrote.

Every task of a greennlp writer (``PackedBlockWriter``, ``EmbeddingWriter``, ``PrototypeScorer``) ends by writing
``_greennlp/task-<rank>.json`` in its output folder: the number of tasks of its run, its settings and the shards it
wrote (name, bytes, rows). Together these records are the run's manifest. A reader reads the shards of the last run
only (that of the most recently finished task), once all its tasks have finished, and refuses a folder whose shards
disagree with their records, mix settings or hold files no run wrote; so a folder reused by a run with fewer tasks,
or a run stopped midway, is never read as if it were one whole run.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from datasets import Dataset

#: Columns every packed block has; ``offset_mapping`` is added when the packer keeps offsets.
PACKED_COLUMNS = ("input_ids", "attention_mask", "special_tokens_mask", "content_word_mask", "word_ids")
#: Folder of the task records (its leading underscore keeps it out of shard listings, pyarrow's and ours).
RUN_FOLDER = "_greennlp"
#: What each writer's shards hold; a reader refuses a folder of another kind.
PACKED_BLOCKS, EMBEDDINGS, PROTOTYPE_SCORES = "packed blocks", "embeddings", "prototype scores"
RECORD_VERSION = 1


def shard_files(folder: str | os.PathLike) -> list[Path]:
    """The ``*.parquet`` shards under ``folder`` (recursively), sorted, without hidden or ``_``-prefixed files or
    folders (pyarrow's rule): the temporary file of a write in progress (``.<name>.<random>.parquet``) is no shard."""
    root = Path(folder)
    return sorted(path for path in root.rglob("*.parquet")
                  if not any(part.startswith((".", "_")) for part in path.relative_to(root).parts))


# --- writing a task's record ---------------------------------------------------------------------------------

def record_name(rank: int) -> str:
    return f"{RUN_FOLDER}/task-{rank:05d}.json"


def shard_entry(size: int, parquet_file) -> dict:
    """What a task record says of one shard: its size in bytes and its rows (from an open ``pq.ParquetFile``)."""
    return {"bytes": int(size), "rows": int(parquet_file.metadata.num_rows)}


def local_shard_entry(path: Path) -> dict:
    import pyarrow.parquet as pq

    return shard_entry(path.stat().st_size, pq.ParquetFile(path))


def write_task_record(folder, *, kind: str, rank: int, world_size: int, files: dict[str, dict],
                      settings: dict | None) -> None:
    """Write the record of a task that ended well: call it after the task's shards are in place.

    ``folder`` is a local path or a datatrove ``DataFolder`` (possibly remote); ``files`` maps each shard's path,
    relative to ``folder``, to its :func:`shard_entry`; ``settings`` are what a reader checks are the same in every
    shard (``None`` when the task wrote no shard)."""
    record = {"format_version": RECORD_VERSION, "kind": kind, "rank": int(rank), "world_size": int(world_size),
              "finished": time.time(), "settings": settings, "files": dict(sorted(files.items()))}
    text = json.dumps(record, indent=2) + "\n"
    name = record_name(rank)
    if isinstance(folder, (str, os.PathLike)):
        from greennlp._files import write_text

        write_text(Path(folder) / name, text)
        return
    temporary = f"{RUN_FOLDER}/.task-{rank:05d}.{uuid.uuid4().hex[:8]}.json"  # hidden; renamed whole into place
    with folder.open(temporary, "w") as handle:
        handle.write(text)
    folder.mv(temporary, name)


def document_text(document, step: str) -> str:
    """A datatrove document's text, or a ``TypeError`` that names the document when it is no string."""
    if isinstance(document.text, str):
        return document.text
    source = document.metadata.get("file_path") if isinstance(document.metadata, dict) else None
    raise TypeError(
        f"{step}: document {document.id!r}{f' (from {source})' if source else ''} has a "
        f"{type(document.text).__name__} text; every document needs a str text. Decode bytes to str (the reader's "
        "adapter), or drop documents without text before this step (e.g. with a LambdaFilter).")


# --- reading the last run's shards ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Shard:
    """One shard of the last run: where it is, the task that wrote it, its rows and the run's settings."""
    path: Path
    rank: int
    rows: int
    settings: dict | None


def read_run(folder: str | os.PathLike, *, kind: str, writer: str) -> list[Shard]:
    """The shards of the last run written into ``folder``, sorted by path, checked against their records.

    ``writer`` says how to write such shards (for the error messages). Raises ``FileNotFoundError`` when the
    folder holds no shard, and ``ValueError`` naming the files when: shards have no record (written by another
    tool or an older greennlp), the last run has unfinished tasks, a shard is missing, truncated or overwritten
    since its task recorded it, a ``*.parquet`` file belongs to no run, or the shards were written with different
    settings."""
    root = Path(folder)
    where = str(folder)
    on_disk = shard_files(root)
    records = [_read_record(path, kind) for path in sorted((root / RUN_FOLDER).glob("task-*.json"))]
    if not records:
        if on_disk:
            raise ValueError(
                f"{where!r} holds {len(on_disk)} *.parquet file(s) (e.g. {on_disk[0].name!r}) but no record of the "
                f"run that wrote them ({RUN_FOLDER}/task-*.json): an older greennlp or another tool wrote them, so "
                "nothing says which of them belong to one run. Write them again with "
                f"{writer}, into an empty folder.")
        raise FileNotFoundError(f"no *.parquet shards under {where!r}; write them with {writer}.")
    last = max(records, key=lambda record: (record["finished"], record["rank"]))
    world_size = last["world_size"]
    current = {record["rank"]: record for record in records
               if record["world_size"] == world_size and record["rank"] < world_size}
    unfinished = [rank for rank in range(world_size) if rank not in current]
    if unfinished:
        finished_at = datetime.fromtimestamp(last["finished"], timezone.utc).isoformat(timespec="seconds")
        raise ValueError(
            f"the last run into {where!r} is incomplete: task(s) {_some(unfinished)} of {world_size} have not "
            f"finished (its task {last['rank']} finished at {finished_at}; the records of other tasks are missing "
            "or belong to an earlier run with another number of tasks). Finish the run by starting the pipeline "
            "again with the same logging_dir (datatrove reruns only the unfinished tasks), or write into an empty "
            "folder.")
    listed = {name for record in records for name in record["files"]}
    foreign = [path.relative_to(root).as_posix() for path in on_disk
               if path.relative_to(root).as_posix() not in listed]
    if foreign:
        raise ValueError(
            f"{where!r} holds *.parquet file(s) that no run of {writer.split('(')[0]} recorded: {_some(foreign)}. "
            "They are not the last run's shards; remove them, or write into an empty folder.")
    shards = []
    for rank, record in sorted(current.items()):
        for name, entry in record["files"].items():
            shards.append(_checked_shard(root / name, rank, entry, record["settings"], world_size))
    if not shards:
        raise FileNotFoundError(f"no *.parquet shards under {where!r}: the last run ({world_size} tasks) wrote none "
                                f"(its input was empty?); write them with {writer}.")
    _check_same_settings(shards, where)
    return sorted(shards, key=lambda shard: shard.path)


def _read_record(path: Path, kind: str) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        valid = (isinstance(record, dict) and isinstance(record.get("files"), dict)
                 and all(isinstance(record.get(key), int) for key in ("rank", "world_size"))
                 and isinstance(record.get("finished"), (int, float)))
    except (json.JSONDecodeError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise ValueError(f"{str(path)!r} is not a task record written by greennlp (it is damaged or was edited); "
                         "write the shards again, into an empty folder.")
    if record.get("kind") != kind:
        raise ValueError(f"{str(path.parent.parent)!r} holds {record.get('kind')} shards, not {kind}; pass the "
                         f"folder of the {kind}.")
    return record


def _checked_shard(path: Path, rank: int, entry: dict, settings: dict | None, world_size: int) -> Shard:
    import pyarrow as pa
    import pyarrow.parquet as pq

    task = f"task {rank} of the last run ({world_size} tasks)"
    if not path.is_file():
        raise ValueError(f"{str(path)!r} is missing: {task} wrote it. Was it moved or deleted? Write the shards "
                         "again.")
    size = path.stat().st_size
    if size != entry.get("bytes"):
        raise ValueError(f"{str(path)!r} has {size} bytes, but {task} wrote {entry.get('bytes')}: it is truncated "
                         "or was overwritten since (by another run into this folder?). Write the shards again.")
    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"{str(path)!r} is not a readable Parquet file ({error}): it is truncated or damaged. "
                         "Write the shards again.") from None
    if rows != entry.get("rows"):
        raise ValueError(f"{str(path)!r} holds {rows} rows, but {task} wrote {entry.get('rows')}: it was "
                         "overwritten since (by another run into this folder?). Write the shards again.")
    return Shard(path, rank, rows, settings)


def _check_same_settings(shards: list[Shard], where: str) -> None:
    groups: dict[str, list[Shard]] = {}
    for shard in shards:
        groups.setdefault(json.dumps(shard.settings, sort_keys=True), []).append(shard)
    if len(groups) == 1:
        return
    settings = [group[0].settings or {} for group in groups.values()]
    differing = sorted(key for key in set().union(*settings) if len({json.dumps(s.get(key), sort_keys=True)
                                                                     for s in settings}) > 1)
    described = "; ".join(
        f"{_some([shard.path.name for shard in group])} have "
        + ", ".join(f"{key}={json.dumps((group[0].settings or {}).get(key), sort_keys=True)}" for key in differing)
        for group in sorted(groups.values(), key=lambda group: group[0].path))
    raise ValueError(f"the shards under {where!r} were written with different settings ({', '.join(differing)}): "
                     f"{described}. They cannot be used together; write the corpus again with one configuration, "
                     "into an empty folder.")


def _some(items: list, shown: int = 5) -> str:
    """A list for an error message: the first ``shown`` items, and how many more."""
    items = list(items)
    return f"{items[:shown]}" + (f" and {len(items) - shown} more" if len(items) > shown else "")


def repeated_ids(ids) -> list[str]:
    """The values that occur more than once in a pyarrow (chunked) array of ids, at most 3 of them."""
    import pyarrow.compute as pc

    if pc.count_distinct(ids).as_py() == len(ids):
        return []
    counts = pc.value_counts(ids)
    values, repeats = counts.field("values").to_pylist(), counts.field("counts").to_pylist()
    return [value for value, count in zip(values, repeats, strict=True) if count > 1]


# --- the packed blocks ---------------------------------------------------------------------------------------

def load_packed_shards(folder: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None) -> Dataset:
    """Load the shards of the last packing run into ``folder`` as one memory-mapped ``Dataset``, sorted by block id.

    Block ids name the input file and the block's place in it, so the order (and a seeded shuffle of it) is the
    same whether the corpus was packed by one task or many. Only the shards that the last run's tasks recorded are
    read (a run with fewer tasks into a reused folder leaves the earlier run's extra shards behind; they are
    skipped). Refused with an error naming the files: a run with unfinished tasks, a shard truncated or
    overwritten since it was written, a ``*.parquet`` file no run wrote, shards of different packing settings
    (``seq_len``, ``keep_offsets``, tokenizer, tagger) and a block id that occurs twice.

    Parameters
    ----------
    folder : path
        The writer's output folder (searched recursively).
    cache_dir : path, optional
        Where ``datasets`` keeps its Arrow copy (default: its usual cache).

    Returns
    -------
    Dataset
        Columns ``input_ids``, ``attention_mask``, ``special_tokens_mask``, ``content_word_mask``, ``word_ids``
        (and ``offset_mapping`` when kept), ready for :class:`greennlp.masking.DataCollatorForContentMasking`; ``id`` is removed.
    """
    shards = read_run(folder, kind=PACKED_BLOCKS, writer="ContentWordPacker followed by PackedBlockWriter(folder)")
    dataset = Dataset.from_parquet([str(shard.path) for shard in shards],
                                   cache_dir=None if cache_dir is None else str(cache_dir))
    missing = [column for column in PACKED_COLUMNS + ("id",) if column not in dataset.column_names]
    if missing:
        raise ValueError(f"{str(folder)!r} holds Parquet files without the packed columns {missing} "
                         f"(columns: {dataset.column_names}); is it the output of PackedBlockWriter?")
    repeated = repeated_ids(dataset.data.table.column("id"))
    if repeated:
        raise ValueError(f"block ids such as {repeated[:3]} occur more than once in the shards under "
                         f"{str(folder)!r}: an input file was packed twice (two readers, or overlapping globs, "
                         "over one file?). Pack each input file once, into an empty folder.")
    return dataset.sort("id").remove_columns("id")
