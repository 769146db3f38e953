"""Read the packed Parquet shards written by :class:`~greennlp.scale.ContentWordPacker` back as one ``Dataset``
for pretraining (no datatrove needed to read them)."""
from __future__ import annotations

import os
from pathlib import Path

from datasets import Dataset

#: Columns every packed block has; ``offset_mapping`` is added when the packer keeps offsets.
PACKED_COLUMNS = ("input_ids", "attention_mask", "special_tokens_mask", "content_word_mask", "word_ids")


def shard_files(folder: str | os.PathLike) -> list[Path]:
    """The ``*.parquet`` shards under ``folder`` (recursively), sorted, without hidden or ``_``-prefixed files or
    folders (pyarrow's rule): the temporary file of a write in progress (``.<name>.<random>.parquet``) is no shard."""
    root = Path(folder)
    return sorted(path for path in root.rglob("*.parquet")
                  if not any(part.startswith((".", "_")) for part in path.relative_to(root).parts))


def load_packed_shards(folder: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None) -> Dataset:
    """Load every ``*.parquet`` shard under ``folder`` as one memory-mapped ``Dataset``, sorted by block id.

    Block ids name the input file and the block's place in it, so the order (and a seeded shuffle of it) is the
    same whether the corpus was packed by one task or many.

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
        (and ``offset_mapping`` when kept), ready for :func:`greennlp.masking.mlm_collator`; ``id`` is removed.
    """
    files = [str(path) for path in shard_files(folder)]
    if not files:
        raise FileNotFoundError(f"no *.parquet shards under {str(folder)!r}; write them with ContentWordPacker "
                                "followed by PackedBlockWriter(folder).")
    dataset = Dataset.from_parquet(files, cache_dir=None if cache_dir is None else str(cache_dir))
    missing = [column for column in PACKED_COLUMNS if column not in dataset.column_names]
    if missing:
        raise ValueError(f"{str(folder)!r} holds Parquet files without the packed columns {missing} "
                         f"(columns: {dataset.column_names}); is it the output of PackedBlockWriter?")
    if "id" in dataset.column_names:
        dataset = dataset.sort("id").remove_columns("id")
    return dataset
