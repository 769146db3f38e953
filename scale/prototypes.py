"""Prototype pruning (Sorscher et al. 2022) at corpus scale, in datatrove's shape: embed documents per task
(:class:`EmbeddingWriter`), fit k-means on one machine on a sample of the embeddings (:func:`fit_prototypes`),
score every document per task (:class:`PrototypeScorer`) and keep a fraction of the whole corpus
(:func:`select_by_prototype_score`).

The math is :class:`greennlp.filters.PrototypePruner`'s: the same embeddings, k-means and cosine distance to the
nearest prototype, so the sharded scores equal the pruner's on the same documents.
"""
from __future__ import annotations

import hashlib
import json
import logging
import numbers
import os
from pathlib import Path

import numpy as np

from greennlp._files import atomic_write

from ._requirements import MISSING_DATATROVE
from .shards import (
    EMBEDDINGS,
    PROTOTYPE_SCORES,
    document_text,
    local_shard_entry,
    read_run,
    repeated_ids,
    write_task_record,
)

try:
    from datatrove.data import DocumentsPipeline
    from datatrove.pipeline.base import PipelineStep
    from datatrove.utils.batching import batched
except ImportError as error:  # pragma: no cover - exercised by a test that hides datatrove
    raise ImportError(MISSING_DATATROVE) from error

#: Key of the schema metadata in which an embedding shard says how it was embedded.
_ABOUT_KEY = b"greennlp"
# Documents handed to ``embed`` at once: it sorts them by length before batching, so more than one batch's worth
# means less padding; small enough that a task's memory stays flat.
_BATCHES_PER_CHUNK = 16
_EMBEDDINGS_WRITER = "EmbeddingWriter(folder)"
logger = logging.getLogger(__name__)


class EmbeddingWriter(PipelineStep):
    """Embed each document with a sentence encoder and write one Parquet shard of embeddings per task.

    The shard (``{rank:05d}.parquet`` in ``output_folder``) holds the columns ``id`` (the document's id) and
    ``embedding`` (float32, unit length: mean pooling then L2 normalisation, as
    :class:`~greennlp.filters.PrototypePruner` embeds), and records the encoder and ``max_length`` in its schema
    metadata, which :func:`fit_prototypes` and :class:`PrototypeScorer` check. It is written atomically (a temporary
    file renamed at the end of the task), so a task that fails or is killed leaves no shard that a reader would
    take for a finished one; then the task writes its record ``_greennlp/task-<rank>.json``, from which readers
    take the last run's shards only (see :func:`greennlp.scale.load_packed_shards`). Every document's text must be
    a ``str`` (a ``None`` or bytes text is refused, naming the document). The step passes no documents on: put it
    last.

    Parameters
    ----------
    output_folder : path
        Folder of the shards, on a file system every task can write (and the k-means machine read).
    encoder : str, optional
        Hub id or local folder of a sentence encoder, loaded once per task; ``None`` uses
        ``greennlp.encoders``' default (all-MiniLM-L6-v2).
    batch_size : int
        Documents per forward pass.
    max_length : int
        Tokens kept per document (truncation), as ``PrototypePruner(max_length=...)``.
    device : str, optional
        Where the encoder runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``); ``None`` picks the GPU when there is one.
        Give GPU tasks a GPU each (``gpus_per_task=1`` on Ray, a GPU partition on Slurm).

    Examples
    --------
    >>> from datatrove.executor import LocalPipelineExecutor                           # doctest: +SKIP
    >>> from datatrove.pipeline.readers import JsonlReader                             # doctest: +SKIP
    >>> LocalPipelineExecutor([JsonlReader("clean/"), EmbeddingWriter("embeddings/")],
    ...                       tasks=8, workers=2, logging_dir="logs/embed").run()      # doctest: +SKIP
    """

    name = "🧭 greennlp embeddings"
    type = "💽 - WRITER"

    def __init__(self, output_folder: str | os.PathLike, *, encoder: str | None = None, batch_size: int = 64,
                 max_length: int = 256, device: str | None = None) -> None:
        super().__init__()
        if encoder is not None and not isinstance(encoder, (str, os.PathLike)):
            raise TypeError(f"encoder must be a hub id or a local folder (each task loads it); got "
                            f"{type(encoder).__name__}.")
        for name, value in (("batch_size", batch_size), ("max_length", max_length)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        self.output_folder = str(output_folder)
        self.encoder = None if encoder is None else str(encoder)
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device

    def _load(self):
        from greennlp.encoders.models import DEFAULT_PRETRAINED, default_device, load_bare_encoder, load_tokenizer

        name = self.encoder or DEFAULT_PRETRAINED
        # loaded as encoders.embed loads a named encoder, once per task instead of once per call
        model = load_bare_encoder(name, device=self.device or default_device())
        return name, model, load_tokenizer(name)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from greennlp.encoders import embed

        name, model, tokenizer = self._load()
        dim = model.config.hidden_size
        about = {"encoder": name, "max_length": self.max_length, "normalize": True}
        shard = Path(self.output_folder) / f"{rank:05d}.parquet"
        schema = pa.schema([("id", pa.string()), ("embedding", pa.list_(pa.float32(), dim))],
                           metadata={_ABOUT_KEY: json.dumps(about).encode()})

        def write(temporary: str) -> None:
            with pq.ParquetWriter(temporary, schema) as writer:
                for chunk in batched(data or [], self.batch_size * _BATCHES_PER_CHUNK):
                    with self.track_time("batch"):
                        texts = [document_text(doc, "EmbeddingWriter") for doc in chunk]
                        vectors = embed(texts, model, tokenizer=tokenizer, batch_size=self.batch_size,
                                        max_length=self.max_length, normalize=True)
                        embeddings = pa.FixedSizeListArray.from_arrays(vectors.astype(np.float32).ravel(), dim)
                        writer.write_table(pa.table([pa.array([doc.id for doc in chunk], pa.string()), embeddings],
                                                    schema=schema))
                    self.stat_update("documents", value=len(chunk))

        atomic_write(shard, write)
        write_task_record(self.output_folder, kind=EMBEDDINGS, rank=rank, world_size=world_size,
                          files={shard.name: local_shard_entry(shard)}, settings={**about, "dim": dim})
        yield from ()  # passes no documents on, but is a generator as datatrove's steps are


def _read_embeddings(path: Path, rows: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
    """The ids and the (n, dim) float32 embeddings of one shard, or of its ``rows`` only."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["id", "embedding"])
    if rows is not None:
        table = table.take(rows)
    column = table.column("embedding").combine_chunks()
    dim = column.type.list_size
    return table.column("id").to_pylist(), column.flatten().to_numpy().reshape(len(table), dim)


def _about(path: Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"{str(path)!r} is not a readable Parquet file ({error}): it is truncated or damaged. "
                         "Embed the corpus again.") from None
    if _ABOUT_KEY not in metadata:
        raise ValueError(f"{str(path)!r} is not an embedding shard written by EmbeddingWriter (no {_ABOUT_KEY!r} "
                         "schema metadata).")
    return json.loads(metadata[_ABOUT_KEY])


def fit_prototypes(embeddings_folder: str | os.PathLike, *, n_clusters: int = 10, sample_size: int = 100_000,
                   algorithm: str = "auto", random_state: int = 0):
    """Fit k-means prototypes on a uniform sample of the embedding shards, on this machine.

    k-means needs every point in one place; a sample of ``sample_size`` documents (drawn with ``random_state``
    across all shards, without replacement) places the prototypes well at a fraction of the memory and time.

    Parameters
    ----------
    embeddings_folder : path
        The :class:`EmbeddingWriter` output folder.
    n_clusters, algorithm, random_state
        As :class:`~greennlp.filters.PrototypePruner`'s (``random_state`` also draws the sample).
    sample_size : int
        Documents clustered; all of them when the corpus is smaller.

    Returns
    -------
    PrototypePruner
        Fitted on the sample (``cluster_centers_``; ``scores_`` are the sample's), with the shards' encoder and
        ``max_length``, so ``score_samples(texts)`` embeds new texts as the shards were embedded. Pass it to
        :class:`PrototypeScorer`.

    Only the last embedding run's shards are read, and a folder is refused (with an error naming the files) when
    that run is unfinished, a shard was truncated or overwritten, the shards were embedded differently, or a
    document id occurs twice.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from greennlp.filters.prototypes import PrototypePruner

    if not isinstance(sample_size, (int, np.integer)) or isinstance(sample_size, bool) or sample_size < 1:
        raise ValueError(f"sample_size must be a positive integer; got {sample_size!r}.")
    shards = read_run(embeddings_folder, kind=EMBEDDINGS, writer=_EMBEDDINGS_WRITER)
    files = [shard.path for shard in shards]
    abouts = [_about(path) for path in files]
    if any(about != abouts[0] for about in abouts):
        raise ValueError(f"the shards under {str(embeddings_folder)!r} were embedded differently "
                         f"({sorted({json.dumps(about, sort_keys=True) for about in abouts})}); embed the corpus "
                         "with one encoder and one max_length.")
    repeated = repeated_ids(pa.chunked_array([pq.read_table(path, columns=["id"]).column("id").combine_chunks()
                                              for path in files]))
    if repeated:
        raise ValueError(f"document ids such as {repeated[:3]} occur more than once in the embedding shards under "
                         f"{str(embeddings_folder)!r}; give every document a unique id, and read each input once.")
    counts = np.array([shard.rows for shard in shards])
    total = int(counts.sum())
    if sample_size >= total:
        picked = np.arange(total)
    else:
        picked = np.sort(np.random.default_rng(random_state).choice(total, size=sample_size, replace=False))
    starts = np.concatenate([[0], np.cumsum(counts)])
    parts = []
    for path, start, end in zip(files, starts[:-1], starts[1:], strict=True):
        rows = picked[(picked >= start) & (picked < end)] - start
        if len(rows):
            parts.append(_read_embeddings(path, None if len(rows) == end - start else rows)[1])
    pruner = PrototypePruner(abouts[0]["encoder"], n_clusters=n_clusters, algorithm=algorithm,
                             max_length=abouts[0]["max_length"], progress=False, random_state=random_state)
    return pruner.fit(np.concatenate(parts) if parts else np.empty((0, 0)))


class PrototypeScorer(PipelineStep):
    """Score the embedding shards by cosine distance to the nearest prototype, one scores shard per embedding shard.

    Task ``rank`` of ``world_size`` scores every ``world_size``-th shard of ``embeddings_folder`` (in name order),
    so any number of tasks covers them all. Each scores shard (same name, in ``output_folder``) holds ``id``,
    ``score`` (higher = farther from its prototype = harder) and ``cluster`` (the nearest prototype), the values
    :meth:`PrototypePruner.score_samples <greennlp.filters.PrototypePruner.score_samples>` gives, and is written
    atomically; each task then writes its record ``_greennlp/task-<rank>.json``. Reads no documents and passes on
    any it is given.

    Only the last embedding run's shards are scored, and only when they were embedded as the pruner embeds: the
    shards' recorded encoder and ``max_length`` must be the pruner's (prototypes fitted in one embedding space say
    nothing about another, even of the same dimension), or the task fails before it writes anything.

    Parameters
    ----------
    pruner : PrototypePruner
        Fitted without ``per_class`` (documents at scale carry no labels), e.g. by :func:`fit_prototypes`.
    embeddings_folder : path
        The :class:`EmbeddingWriter` output folder.
    output_folder : path
        Folder of the scores shards; read them with :func:`select_by_prototype_score`.
    """

    name = "📐 greennlp prototype scores"
    type = "💽 - WRITER"

    def __init__(self, pruner, embeddings_folder: str | os.PathLike, output_folder: str | os.PathLike) -> None:
        super().__init__()
        from sklearn.utils.validation import check_is_fitted

        from greennlp.filters.prototypes import PrototypePruner

        if not isinstance(pruner, PrototypePruner):
            raise TypeError(f"pruner must be a fitted PrototypePruner (see fit_prototypes); got "
                            f"{type(pruner).__name__}.")
        check_is_fitted(pruner, "cluster_centers_")
        if pruner.per_class:
            raise ValueError("the pruner was fitted with per_class=True; sharded scoring needs one set of "
                             "prototypes for all documents (per_class=False).")
        self.pruner = pruner
        self.embeddings_folder = str(embeddings_folder)
        self.output_folder = str(output_folder)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from greennlp.filters.prototypes import nearest_centroid_distance

        if data:
            yield from data
        root = Path(self.embeddings_folder)
        shards = read_run(root, kind=EMBEDDINGS, writer=_EMBEDDINGS_WRITER)
        about = self._check_embedded_as_the_pruner_embeds(shards[0].path)
        settings = {"embeddings": about, "n_clusters": int(len(self.pruner.cluster_centers_)),
                    "prototypes_sha256": hashlib.sha256(
                        np.ascontiguousarray(self.pruner.cluster_centers_, dtype=np.float64).tobytes()).hexdigest()}
        written = {}
        for path in [shard.path for shard in shards][rank::world_size]:
            with self.track_time("shard"):
                ids, embeddings = _read_embeddings(path)
                if embeddings.shape[1] != self.pruner.n_features_in_:
                    raise ValueError(f"{str(path)!r} holds embeddings of dimension {embeddings.shape[1]}; the "
                                     f"pruner was fitted on {self.pruner.n_features_in_}.")
                scores, clusters = nearest_centroid_distance(embeddings, self.pruner.cluster_centers_)
                table = pa.table({"id": pa.array(ids, pa.string()), "score": pa.array(scores, pa.float64()),
                                  "cluster": pa.array(clusters, pa.int32())})
                target = Path(self.output_folder) / path.relative_to(root)
                atomic_write(target, lambda temporary, table=table: pq.write_table(table, temporary))
                written[path.relative_to(root).as_posix()] = local_shard_entry(target)
            self.stat_update("shards")
            self.stat_update("documents", value=len(ids))
        write_task_record(self.output_folder, kind=PROTOTYPE_SCORES, rank=rank, world_size=world_size,
                          files=written, settings=settings)

    def _check_embedded_as_the_pruner_embeds(self, path: Path) -> dict:
        """The shards' embedding settings (the same in all of them: ``read_run`` checks), refused unless they are
        the pruner's encoder and ``max_length``."""
        about = _about(path)
        encoder, max_length = _encoder_name(self.pruner.encoder), self.pruner.max_length
        if not _same_encoder(about.get("encoder"), encoder) or about.get("max_length") != max_length:
            raise ValueError(
                f"the shards under {self.embeddings_folder!r} (e.g. {path.name!r}) were embedded with encoder "
                f"{about.get('encoder')!r} and max_length={about.get('max_length')}, but the pruner embeds with "
                f"encoder {encoder!r} and max_length={max_length}: its prototypes live in another embedding space, "
                "so the scores would mean nothing. Fit the pruner on these shards (fit_prototypes(embeddings_folder))"
                ", or embed the corpus again with the pruner's encoder and max_length.")
        return about


def _encoder_name(encoder) -> str | None:
    """The name or folder of a pruner's encoder (a model object's ``name_or_path``)."""
    if isinstance(encoder, (str, os.PathLike)):
        return str(encoder)
    return getattr(getattr(encoder, "config", None), "_name_or_path", None) or None


def _same_encoder(recorded: str | None, name: str | None) -> bool:
    """Whether two encoder names are one encoder: the same name, or two spellings of one local folder."""
    if recorded is None or name is None:
        return False
    if recorded == name:
        return True
    first, second = Path(recorded).expanduser(), Path(name).expanduser()
    return first.is_dir() and second.is_dir() and first.resolve() == second.resolve()


def select_by_prototype_score(scores_folder: str | os.PathLike, *, fraction: float | None = None,
                              threshold: float | None = None, keep: str = "hard", seed: int = 0):
    """Keep a fraction of the whole corpus by prototype score: one global ranking across all scores shards.

    Parameters
    ----------
    scores_folder : path
        The :class:`PrototypeScorer` output folder.
    fraction, threshold
        Exactly one: keep ``fraction`` of all documents (a number in (0, 1], rounded half up, as
        :meth:`PrototypePruner.select <greennlp.filters.PrototypePruner.select>`) or every document whose score is
        ``>= threshold`` (``keep="hard"``) or ``<= threshold`` (``keep="easy"``; a finite number). A document
        without a score (NaN) is never kept: a ``fraction`` that asks for more documents than have a score is
        refused, and the number of unscored documents is logged.
    keep : {"hard", "easy"}
        Keep the documents farthest from their prototype (Sorscher et al.: best when data is plentiful) or nearest.
    seed : int
        Breaks ties reproducibly (duplicated documents have equal scores).

    Returns
    -------
    pandas.DataFrame
        Indexed by document ``id``, in shard order, with the columns ``score``, ``cluster`` and ``kept``. The global
        threshold is ``frame.score[frame.kept].min()`` for ``keep="hard"`` (``max()`` for ``"easy"``).
    """
    import pandas as pd
    import pyarrow.parquet as pq

    from greennlp.datamaps.regions import count_for_fraction, top_positions

    if keep not in ("hard", "easy"):
        raise ValueError(f"keep={keep!r}; choose 'hard' (far from prototypes) or 'easy' (near).")
    if fraction is not None and (isinstance(fraction, bool) or not isinstance(fraction, numbers.Real)):
        raise TypeError(f"fraction={fraction!r}; give the share of documents to keep as a number in (0, 1], "
                        "e.g. 0.5.")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, numbers.Real)
                                  or not np.isfinite(threshold)):
        raise ValueError(f"threshold={threshold!r}; give a finite number (a score: documents at or past it are "
                         "kept), or a fraction instead.")
    files = [shard.path for shard in read_run(scores_folder, kind=PROTOTYPE_SCORES,
                                               writer="PrototypeScorer(pruner, embeddings_folder, folder)")]
    frame = pd.concat([pq.read_table(path, columns=["id", "score", "cluster"]).to_pandas() for path in files],
                      ignore_index=True)
    duplicated = frame["id"][frame["id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"{len(duplicated)} document ids occur in more than one row (e.g. "
                         f"{list(duplicated[:3])}); give every document a unique id before embedding.")
    scores = frame["score"].to_numpy(dtype=np.float64)
    unscored = np.isnan(scores)
    if unscored.any():
        examples = list(frame["id"][unscored][:3])
        if fraction is not None and count_for_fraction(fraction, len(frame)) > len(frame) - unscored.sum():
            raise ValueError(
                f"fraction={fraction} asks for {count_for_fraction(fraction, len(frame))} documents, but "
                f"{int(unscored.sum())} of the {len(frame)} documents have no score (NaN; e.g. {examples}) and are "
                f"never kept. Keep a fraction of at most {(len(frame) - unscored.sum()) / len(frame):.4f}, or find "
                "why those documents have no score (an empty or all-padding text?).")
        logger.warning("select_by_prototype_score: %d of the %d documents have no score (NaN; e.g. %s); they are "
                       "not kept.", int(unscored.sum()), len(frame), examples)
    kept = np.zeros(len(frame), dtype=bool)
    # NaN scores rank last, so a fraction of at most the scored documents and a threshold never pick them
    kept[top_positions(scores, fraction, threshold, highest=keep == "hard", seed=seed)] = True
    return frame.assign(kept=kept).set_index("id")
