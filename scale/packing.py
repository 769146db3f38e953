"""Content-word tagging as a datatrove step: tag, tokenize and pack documents into fixed-length blocks with the
columns that :mod:`greennlp.masking`'s collators read, and a Parquet writer for those blocks.

Blocks never cross an input file, so a corpus packed by N tasks gives the same blocks as one packed by one task.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import IO

from greennlp.masking import ContentWordTagger
from greennlp.masking.alignment import align_batch

from ._requirements import MISSING_DATATROVE
from .shards import PACKED_BLOCKS, PACKED_COLUMNS, document_text, shard_entry, write_task_record

try:
    from datatrove.data import Document, DocumentsPipeline
    from datatrove.io import DataFolderLike
    from datatrove.pipeline.base import PipelineStep
    from datatrove.pipeline.writers.parquet import ParquetWriter
    from datatrove.utils.batching import batched
except ImportError as error:  # pragma: no cover - exercised by a test that hides datatrove
    raise ImportError(MISSING_DATATROVE) from error

OFFSETS_COLUMN = "offset_mapping"
# Where PackedBlockWriter writes a task's files until the task ends well; hidden, so load_packed_shards skips it.
_STAGING_FOLDER = ".partial"
# Block metadata key through which ContentWordPacker tells PackedBlockWriter its settings (a JSON string, one per
# task, shared by all its blocks): the writer stores them in each shard and in its task record.
_SETTINGS_KEY = "greennlp_packing"
_SCHEMA_KEY = b"greennlp"
# Narrow integer types: token ids fit int32, flags int8 (a quarter of the int64 that inference would pick).
_COLUMN_TYPES = {"input_ids": "int32", "attention_mask": "int8", "special_tokens_mask": "int8",
                 "content_word_mask": "int8", "word_ids": "int32"}


class ContentWordPacker(PipelineStep):
    """Tag content words, tokenize and pack documents into blocks of ``seq_len`` tokens.

    Each output is a datatrove ``Document`` with empty text whose metadata holds one block's ``input_ids``,
    ``attention_mask``, ``special_tokens_mask``, ``content_word_mask`` and ``word_ids`` (as
    :func:`greennlp.masking.add_content_word_mask` computes them), plus ``offset_mapping`` with
    ``keep_offsets=True`` (HF whole-word masking needs it). Follow it with :class:`PackedBlockWriter`.

    Documents are tokenized whole, keep their own ``[CLS] ... [SEP]`` and are concatenated in reading order;
    every document's text must be a ``str`` (a ``None`` or bytes text is refused, naming the document);
    the tokens left over at the end of each input file (fewer than ``seq_len``) are dropped, as
    ``scripts/pretrain_mlm.py`` drops a batch's remainder. Packing restarts at each input file (the reader's
    ``metadata["file_path"]``), which is what makes the blocks independent of the number of tasks.

    Parameters
    ----------
    tokenizer : str or PreTrainedTokenizerFast
        A fast tokenizer, or its name or folder (loaded in each task, which is cheaper to send to workers).
    tagger : str or ContentWordTagger
        ``"blank"`` (default: lexical rules, any non-stop word with a letter or digit), a spaCy pipeline name such
        as ``"en_core_web_sm"`` (POS-based), or a configured :class:`~greennlp.masking.ContentWordTagger`.
    seq_len : int
        Tokens per block.
    batch_size : int
        Documents tagged and tokenized together.
    keep_offsets : bool
        Also store each token's character offsets in its document.

    Examples
    --------
    >>> from datatrove.executor import LocalPipelineExecutor                  # doctest: +SKIP
    >>> from datatrove.pipeline.readers import JsonlReader                    # doctest: +SKIP
    >>> LocalPipelineExecutor([JsonlReader("clean/"), ContentWordPacker("runs/tokenizer"),
    ...                        PackedBlockWriter("packed/")], tasks=8, workers=2).run()  # doctest: +SKIP
    """

    name = "🏷 greennlp content-word packing"
    type = "🔢 - TOKENIZER"

    def __init__(self, tokenizer, tagger: str | ContentWordTagger = "blank", *, seq_len: int = 128,
                 batch_size: int = 256, keep_offsets: bool = False) -> None:
        super().__init__()
        if not isinstance(seq_len, int) or seq_len < 2:
            raise ValueError(f"seq_len must be an int >= 2 (tokens per block); got {seq_len!r}.")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
        if not isinstance(tagger, (str, ContentWordTagger)):
            raise TypeError(f"tagger must be a spaCy pipeline name, 'blank' or a ContentWordTagger; got "
                            f"{type(tagger).__name__}.")
        self.tokenizer = tokenizer
        self.tagger = tagger
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.keep_offsets = keep_offsets

    def _load(self):
        tokenizer = self.tokenizer
        if isinstance(tokenizer, (str, os.PathLike)):
            from greennlp.encoders import load_tokenizer

            # documents are packed, not truncated: silence the "longer than model_max_length" warning
            tokenizer = load_tokenizer(tokenizer, model_max_length=10**9)
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(f"{type(tokenizer).__name__} is not a fast tokenizer; content-word alignment needs "
                             "offset mappings. Pass a fast tokenizer or its folder.")
        tagger = self.tagger if isinstance(self.tagger, ContentWordTagger) else ContentWordTagger(self.tagger)
        return tokenizer, tagger.load()

    def _settings(self, tokenizer, tagger: ContentWordTagger) -> str:
        """What makes these blocks these blocks, as JSON: shards with different settings must not be mixed."""
        model = tagger.model if isinstance(tagger.model, str) else \
            "{lang}_{name}-{version}".format(**{"lang": "", "name": "", "version": "", **tagger.nlp_.meta})
        settings = {"seq_len": self.seq_len, "keep_offsets": bool(self.keep_offsets),
                    "tokenizer": _tokenizer_identity(tokenizer),
                    "tagger": {"model": model, "strategy": tagger.strategy_, "content_pos": list(tagger.content_pos),
                               "exclude_stop_words": bool(tagger.exclude_stop_words), "lang": tagger.lang}}
        return json.dumps(settings, sort_keys=True)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data is None:
            return
        tokenizer, tagger = self._load()
        settings = self._settings(tokenizer, tagger)
        columns = [column for column in PACKED_COLUMNS if column != "attention_mask"] + ([OFFSETS_COLUMN] if self.keep_offsets else [])
        buffer: dict[str, list] = {column: [] for column in columns}
        source, blocks_in_source = None, 0
        for batch in batched(data, self.batch_size):
            texts = [document_text(doc, "ContentWordPacker") for doc in batch]
            with self.track_time("batch"):
                encoded = tokenizer(texts, truncation=False, return_offsets_mapping=True,
                                    return_special_tokens_mask=True, return_attention_mask=False)
                content, words = align_batch(encoded["offset_mapping"], list(tagger.word_spans(texts)),
                                             encoded["special_tokens_mask"])
            for i, doc in enumerate(batch):
                self.stat_update("documents")
                file_path = doc.metadata.get("file_path")
                if file_path != source:
                    self._drop_remainder(buffer)
                    source, blocks_in_source = file_path, 0
                row = {"input_ids": encoded["input_ids"][i], "special_tokens_mask": encoded["special_tokens_mask"][i],
                       "content_word_mask": content[i].tolist(), "word_ids": words[i].tolist()}
                if self.keep_offsets:
                    row[OFFSETS_COLUMN] = [list(pair) for pair in encoded["offset_mapping"][i]]
                for column in columns:
                    buffer[column].extend(row[column])
                self.stat_update("tokens", value=len(row["input_ids"]))
                while len(buffer["input_ids"]) >= self.seq_len:
                    yield self._block(buffer, source, blocks_in_source, settings)
                    blocks_in_source += 1
        self._drop_remainder(buffer)

    def _block(self, buffer: dict[str, list], source: str | None, index: int, settings: str) -> Document:
        block = {column: values[:self.seq_len] for column, values in buffer.items()}
        for values in buffer.values():
            del values[:self.seq_len]
        block["attention_mask"] = [1] * self.seq_len
        block[_SETTINGS_KEY] = settings
        self.stat_update("blocks")
        self.stat_update("content_tokens", value=sum(block["content_word_mask"]))
        # zero-padded so that sorting ids sorts blocks in reading order within a file
        return Document(text="", id=f"{source or 'stream'}/{index:09d}", metadata=block)

    def _drop_remainder(self, buffer: dict[str, list]) -> None:
        self.stat_update("tokens_dropped", value=len(buffer["input_ids"]))
        for values in buffer.values():
            values.clear()


def _tokenizer_identity(tokenizer) -> dict:
    """A fast tokenizer's name and a SHA-256 of its vocabulary and rules (normalizer, pre-tokenizer, model, added
    tokens, post-processor), so that shards of two tokenizers with one name are told apart."""
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    for key in ("truncation", "padding"):  # call-time options, which the HF wrapper changes as it is used
        state.pop(key, None)
    digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
    return {"name_or_path": str(getattr(tokenizer, "name_or_path", "") or ""), "sha256": digest}


def _block_row(writer, document: Document) -> dict:
    row = {"id": document.id, **document.metadata}
    settings = row.pop(_SETTINGS_KEY, None)
    if settings is None:
        raise ValueError(f"block {document.id!r} carries no packing settings: PackedBlockWriter writes the blocks "
                         "of ContentWordPacker; put it right after one.")
    if writer.settings_ is None:
        writer.settings_ = settings
    elif settings != writer.settings_:
        raise ValueError(f"block {document.id!r} was packed with other settings than the task's first block "
                         f"({settings} vs {writer.settings_}); one task packs with one ContentWordPacker.")
    return row


class PackedBlockWriter(ParquetWriter):
    """datatrove's ``ParquetWriter`` for :class:`ContentWordPacker` blocks: one row per block with the columns
    ``id``, ``input_ids``, ``attention_mask``, ``special_tokens_mask``, ``content_word_mask``, ``word_ids``
    (and ``offset_mapping``) in narrow integer types, one file per task (``${rank}.parquet``).

    A task's files appear under their names only when the task ends well: it writes them in the hidden folder
    ``.partial/<rank>/`` and renames them at the end, and removes them when it fails. datatrove's own writers close
    (and so complete) a task's file even when the task fails, which would leave a valid-looking shard with part of
    the blocks; a killed task leaves a file without its footer. Either way, here only the hidden folder holds it,
    which readers skip and the task's next run clears.

    Each shard records the packer's settings (``seq_len``, ``keep_offsets``, the tokenizer's name and a hash of its
    vocabulary and rules, the tagger) in its schema metadata, and each task that ends well writes its record
    ``_greennlp/task-<rank>.json`` (the run's number of tasks, the settings, its shards), even when it had no
    blocks: the reader takes the last run's shards only and refuses mixed settings.

    Read the folder back with :func:`greennlp.scale.load_packed_shards` or
    ``scripts/pretrain_mlm.py --packed-shards FOLDER``. Other arguments are ``ParquetWriter``'s.

    Parameters
    ----------
    output_folder : path, (path, storage options) or datatrove DataFolder
        Folder of the shards, on a file system every task can write (local or any fsspec one).
    output_filename : str, optional
        Name template of each task's file inside ``output_folder``; ``${rank}`` becomes the task's rank, padded
        to five digits. Default ``"${rank}.parquet"``.
    **kwargs
        Other ``ParquetWriter`` arguments (``compression``, ``batch_size``, ``max_file_size``, ...), except
        ``adapter``, which this writer sets.
    """

    name = "📒 greennlp packed blocks"

    def __init__(self, output_folder: DataFolderLike, output_filename: str | None = None, **kwargs) -> None:
        super().__init__(output_folder, output_filename, adapter=_block_row, **kwargs)
        self.settings_: str | None = None  # the packer's settings, from the task's first block

    def _get_output_filename(self, document: Document, rank: int | str = 0, **kwargs) -> str:
        return f"{_staging(rank)}/{super()._get_output_filename(document, rank, **kwargs)}"

    def _write(self, document: dict, file_handler: IO, filename: str):
        if self.schema is None:  # built from the first block, so that offset_mapping is there when kept
            self.schema = _block_schema(document, self.settings_)
        return super()._write(document, file_handler, filename)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import pyarrow.parquet as pq

        folder, staging = self.output_folder, _staging(rank)
        if folder.exists(staging):  # left by a killed run of this task
            folder.rm(staging, recursive=True)
        try:
            yield from super().run(data, rank, world_size)
        except BaseException:
            if folder.exists(staging):
                folder.rm(staging, recursive=True)
            raise
        files = {}
        if folder.exists(staging):  # else the task had no blocks
            for path in folder.list_files(subdirectory=staging):
                target = path[len(staging) + 1:]
                with folder.open(path, "rb") as handle:
                    files[target] = shard_entry(folder.size(path), pq.ParquetFile(handle))
                if "/" in target:
                    folder.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
                folder.mv(path, target)  # a rename on a local file system: the file appears whole or not at all
            folder.rm(staging, recursive=True)
        settings = None if self.settings_ is None else json.loads(self.settings_)
        write_task_record(folder, kind=PACKED_BLOCKS, rank=rank, world_size=world_size, files=files,
                          settings=settings)


def _staging(rank: int | str) -> str:
    return f"{_STAGING_FOLDER}/{str(rank).zfill(5)}"


def _block_schema(row: dict, settings: str | None):
    import pyarrow as pa

    fields = [("id", pa.string())]
    for column in row:
        if column in _COLUMN_TYPES:
            fields.append((column, pa.list_(getattr(pa, _COLUMN_TYPES[column])())))
        elif column == OFFSETS_COLUMN:
            fields.append((column, pa.list_(pa.list_(pa.int32(), 2))))
    return pa.schema(fields, metadata=None if settings is None else {_SCHEMA_KEY: settings.encode()})
