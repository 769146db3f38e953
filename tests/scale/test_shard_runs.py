"""Shards are read as the last run wrote them, or refused: a reused output folder, an unfinished run, repeated ids,
mixed packing settings, tokenizers or encoders, truncated shards, texts that are not strings and selections that
cannot be made (NaN threshold or scores, a bool fraction)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader

from greennlp.encoders import load_encoder, train_wordpiece_tokenizer
from greennlp.scale import (
    ContentWordPacker,
    EmbeddingWriter,
    PackedBlockWriter,
    PrototypeScorer,
    fit_prototypes,
    load_packed_shards,
    select_by_prototype_score,
)

from .conftest import write_jsonl_folder

SHARDS = ["00000.parquet", "00001.parquet", "00002.parquet", "00003.parquet"]  # embedding shards
PACKED = ["000_00000.parquet", "000_00001.parquet", "000_00002.parquet", "000_00003.parquet"]  # datatrove's names


@pytest.fixture(scope="module")
def corpus(documents) -> list[str]:
    return [text for text in documents if text][:48]


@pytest.fixture(scope="module")
def raw(corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus") / "raw"
    write_jsonl_folder(folder, corpus, n_files=4)  # 4 files: 4 tasks read one each, 2 tasks two each
    return folder


@pytest.fixture(scope="module")
def tokenizer_folders(corpus, tmp_path_factory):
    """Two tokenizers trained on the same text with different vocabularies."""
    folders = []
    for vocab_size in (400, 300):
        folder = tmp_path_factory.mktemp(f"tokenizer-{vocab_size}")
        train_wordpiece_tokenizer(corpus, vocab_size=vocab_size, model_max_length=10**9).save_pretrained(folder)
        folders.append(folder)
    return folders


@pytest.fixture(scope="module")
def encoder_folders(corpus, tmp_path_factory) -> list[str]:
    """Two tiny random-weight encoders of the same dimension (seeds 0 and 1), saved with one tokenizer."""
    tokenizer = train_wordpiece_tokenizer(corpus, vocab_size=400)
    folders = []
    for seed in (0, 1):
        folder = tmp_path_factory.mktemp(f"encoder-{seed}")
        load_encoder("tiny", task="mlm", tokenizer=tokenizer, seed=seed).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        folders.append(str(folder))
    return folders


@pytest.fixture(scope="module")
def clean_packed(raw, tokenizer_folders, tmp_path_factory):
    """The folder of one clean packing run with 2 tasks into an empty folder."""
    root = tmp_path_factory.mktemp("clean-packing")
    pack(raw, root / "packed", root / "logs", tokenizer_folders[0], tasks=2)
    return root / "packed"


@pytest.fixture(scope="module")
def clean_blocks(clean_packed) -> dict:
    return load(clean_packed, clean_packed.parent, "clean").to_dict()


@pytest.fixture(scope="module")
def clean_embeddings(raw, encoder_folders, tmp_path_factory):
    """The folder of one clean embedding run with 2 tasks (encoder 0) into an empty folder."""
    root = tmp_path_factory.mktemp("clean-embedding")
    embed_corpus(raw, root / "embeddings", root / "logs", encoder_folders[0], tasks=2)
    return root / "embeddings"


def pack(raw, out, logs, tokenizer, *, tasks: int, local_tasks: int = -1, seq_len: int = 32, **packer_kwargs):
    pipeline = [JsonlReader(str(raw)), ContentWordPacker(str(tokenizer), seq_len=seq_len, **packer_kwargs),
                PackedBlockWriter(str(out))]
    LocalPipelineExecutor(pipeline, tasks=tasks, workers=1, local_tasks=local_tasks, logging_dir=str(logs)).run()


def embed_corpus(raw, out, logs, encoder, *, tasks: int, local_tasks: int = -1, max_length: int = 64):
    pipeline = [JsonlReader(str(raw)), EmbeddingWriter(out, encoder=encoder, batch_size=8, max_length=max_length,
                                                       device="cpu")]
    LocalPipelineExecutor(pipeline, tasks=tasks, workers=1, local_tasks=local_tasks, logging_dir=str(logs)).run()


def load(folder, tmp_path, name: str):
    return load_packed_shards(folder, cache_dir=tmp_path / f"cache-{name}")


# --- a reused output folder, an unfinished run, repeated ids ------------------------------------------------

def test_a_reused_packing_folder_gives_the_last_runs_blocks_only(raw, tokenizer_folders, clean_blocks, tmp_path):
    tokenizer = tokenizer_folders[0]
    pack(raw, tmp_path / "packed", tmp_path / "logs-4", tokenizer, tasks=4)
    pack(raw, tmp_path / "packed", tmp_path / "logs-2", tokenizer, tasks=2)  # a new run into the same folder
    assert sorted(path.name for path in (tmp_path / "packed").glob("*.parquet")) == PACKED  # 2 and 3 are old
    assert load(tmp_path / "packed", tmp_path, "reused").to_dict() == clean_blocks


def test_an_unfinished_run_is_refused_and_its_rerun_completes_it(raw, tokenizer_folders, clean_blocks, tmp_path):
    tokenizer = tokenizer_folders[0]
    pack(raw, tmp_path / "packed", tmp_path / "logs-4", tokenizer, tasks=4)
    pack(raw, tmp_path / "packed", tmp_path / "logs-2", tokenizer, tasks=2, local_tasks=1)  # task 1 never ran
    with pytest.raises(ValueError, match=r"incomplete.*task\(s\) \[1\] of 2"):
        load(tmp_path / "packed", tmp_path, "unfinished")
    pack(raw, tmp_path / "packed", tmp_path / "logs-2", tokenizer, tasks=2)  # datatrove reruns task 1 only
    assert load(tmp_path / "packed", tmp_path, "rerun").to_dict() == clean_blocks


def test_repeated_block_and_document_ids_are_refused(corpus, tokenizer_folders, encoder_folders, tmp_path):
    def documents():
        return iter([Document(text=text, id=str(i), metadata={"file_path": "part-0.jsonl"})
                     for i, text in enumerate(corpus[:8])])

    for rank in (0, 1):  # both tasks read the same input file, as two overlapping readers would
        packer = ContentWordPacker(str(tokenizer_folders[0]), seq_len=32)
        writer = PackedBlockWriter(str(tmp_path / "packed"))
        list(writer.run(packer.run(documents(), rank=rank, world_size=2), rank=rank, world_size=2))
        embedder = EmbeddingWriter(tmp_path / "embeddings", encoder=encoder_folders[0], batch_size=8, device="cpu")
        list(embedder.run(documents(), rank=rank, world_size=2))
    with pytest.raises(ValueError, match=r"part-0.jsonl/000000000.*more than once"):
        load(tmp_path / "packed", tmp_path, "repeated")
    with pytest.raises(ValueError, match=r"document ids such as \['0', '1', '2'\] occur more than once"):
        fit_prototypes(tmp_path / "embeddings", n_clusters=2)


def test_a_reused_embeddings_folder_gives_the_last_runs_embeddings_only(raw, corpus, encoder_folders, tmp_path):
    embed_corpus(raw, tmp_path / "embeddings", tmp_path / "logs-4", encoder_folders[0], tasks=4)
    embed_corpus(raw, tmp_path / "embeddings", tmp_path / "logs-2", encoder_folders[0], tasks=2)
    assert sorted(path.name for path in (tmp_path / "embeddings").glob("*.parquet")) == SHARDS
    pruner = fit_prototypes(tmp_path / "embeddings", n_clusters=2, sample_size=10_000)
    assert pruner.scores_.shape == (len(corpus),)  # every document once, not 1.5 times
    list(PrototypeScorer(pruner, tmp_path / "embeddings", tmp_path / "scores").run(None, rank=0, world_size=1))
    frame = select_by_prototype_score(tmp_path / "scores", fraction=0.5)
    assert len(frame) == len(corpus) and frame["kept"].sum() == len(corpus) // 2
    # an unfinished run is refused by every reader
    embed_corpus(raw, tmp_path / "embeddings", tmp_path / "logs-3", encoder_folders[0], tasks=3, local_tasks=1)
    with pytest.raises(ValueError, match=r"incomplete.*task\(s\) \[1, 2\] of 3"):
        fit_prototypes(tmp_path / "embeddings", n_clusters=2)
    with pytest.raises(ValueError, match="incomplete"):
        list(PrototypeScorer(pruner, tmp_path / "embeddings", tmp_path / "scores-2").run(None, rank=0, world_size=1))


# --- shards of another encoder, mixed packing settings or tokenizers ----------------------------------------

def test_the_scorer_refuses_shards_of_another_encoder_or_max_length(raw, encoder_folders, clean_embeddings, tmp_path):
    embed_corpus(raw, tmp_path / "embeddings-b", tmp_path / "logs-b", encoder_folders[1], tasks=1)
    pruner = fit_prototypes(clean_embeddings, n_clusters=2)
    other = PrototypeScorer(pruner, tmp_path / "embeddings-b", tmp_path / "scores")
    with pytest.raises(ValueError, match=r"encoder.*encoder-1.*encoder-0"):
        list(other.run(None, rank=0, world_size=1))
    shorter = PrototypeScorer(fit_prototypes(clean_embeddings, n_clusters=2).set_params(max_length=32),
                              clean_embeddings, tmp_path / "scores")
    with pytest.raises(ValueError, match="max_length"):
        list(shorter.run(None, rank=0, world_size=1))
    assert not (tmp_path / "scores").exists() or not list((tmp_path / "scores").glob("*.parquet"))


@pytest.mark.parametrize("first, second, setting", [
    ({"seq_len": 32}, {"seq_len": 64}, "seq_len"),
    ({"keep_offsets": False}, {"keep_offsets": True}, "keep_offsets"),
    ({"tokenizer": 0}, {"tokenizer": 1}, "tokenizer"),
])
def test_shards_of_different_packing_settings_are_refused(raw, tokenizer_folders, tmp_path, first, second, setting):
    def run(logs, options, **executor):
        options = dict(options)
        tokenizer = tokenizer_folders[options.pop("tokenizer", 0)]
        pack(raw, tmp_path / "packed", tmp_path / logs, tokenizer, tasks=2, **options, **executor)

    run("logs-first", first)
    run("logs-second", second, local_tasks=1)  # the second run stopped after task 0: a folder of both
    with pytest.raises(ValueError, match=rf"different settings.*{setting}.*000_00000.parquet.*000_00001.parquet"):
        load(tmp_path / "packed", tmp_path, "mixed")


# --- errors that name the problem ---------------------------------------------------------------------------

def test_truncated_shards_are_named(clean_packed, clean_embeddings, tmp_path):
    shutil.copytree(clean_packed, tmp_path / "packed")
    shutil.copytree(clean_embeddings, tmp_path / "embeddings")
    for shard in (tmp_path / "packed" / "000_00001.parquet", tmp_path / "embeddings" / "00001.parquet"):
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"packed.000_00001\.parquet.*truncated"):
        load(tmp_path / "packed", tmp_path, "truncated")
    with pytest.raises(ValueError, match=r"embeddings.00001\.parquet.*truncated"):
        fit_prototypes(tmp_path / "embeddings", n_clusters=2)


@pytest.mark.parametrize("text", [None, b"bytes, not text"])
def test_a_text_that_is_not_a_string_is_named(text, tokenizer_folders, encoder_folders, tmp_path):
    def documents():
        return iter([Document(text="a fine document about cats", id="doc-1", metadata={"file_path": "a.jsonl"}),
                     Document(text=text, id="doc-2", metadata={"file_path": "a.jsonl"})])

    packer = ContentWordPacker(str(tokenizer_folders[0]), seq_len=4)
    with pytest.raises(TypeError, match=r"'doc-2'.*a\.jsonl.*(NoneType|bytes).*str"):
        list(packer.run(documents()))
    writer = EmbeddingWriter(tmp_path / "embeddings", encoder=encoder_folders[0], device="cpu")
    with pytest.raises(TypeError, match=r"'doc-2'.*(NoneType|bytes).*str"):
        list(writer.run(documents()))
    assert not list((tmp_path / "embeddings").glob("*.parquet"))


def write_scores(folder, scores) -> list[str]:
    """A scores folder as one PrototypeScorer task writes it, with the given scores."""
    from greennlp.scale.shards import PROTOTYPE_SCORES, local_shard_entry, write_task_record

    ids = [f"doc-{i:02d}" for i in range(len(scores))]
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": pa.array(ids, pa.string()), "score": pa.array(scores, pa.float64()),
                             "cluster": pa.array(np.zeros(len(scores)), pa.int32())}), folder / "00000.parquet")
    write_task_record(folder, kind=PROTOTYPE_SCORES, rank=0, world_size=1,
                      files={"00000.parquet": local_shard_entry(folder / "00000.parquet")}, settings={})
    return ids


def test_selection_refuses_nan_thresholds_bool_fractions_and_never_keeps_unscored_documents(tmp_path):
    scores = [0.1, 0.5, np.nan, 0.3, 0.9, np.nan, 0.7, 0.2, 0.4, 0.6]
    ids = write_scores(tmp_path / "scores", scores)
    assert len(pq.read_table(tmp_path / "scores" / "00000.parquet")) == 10
    with pytest.raises(ValueError, match=r"threshold=nan.*number"):
        select_by_prototype_score(tmp_path / "scores", threshold=float("nan"))
    with pytest.raises(TypeError, match=r"fraction=True"):
        select_by_prototype_score(tmp_path / "scores", fraction=True)
    # 0.9 of 10 asks for 9, but 2 of the 10 documents have no score: refused, never filled with unscored ones
    with pytest.raises(ValueError, match=r"2 of the 10 documents have no score.*doc-02.*doc-05"):
        select_by_prototype_score(tmp_path / "scores", fraction=0.9)
    frame = select_by_prototype_score(tmp_path / "scores", fraction=0.5)
    assert frame["kept"].sum() == 5 and not frame.loc[[ids[2], ids[5]], "kept"].any()
    easy = select_by_prototype_score(tmp_path / "scores", threshold=0.45, keep="easy")
    assert set(easy.index[easy["kept"]]) == {ids[0], ids[3], ids[7], ids[8]}


# --- a task killed mid-run, and its rerun -------------------------------------------------------------------

# Run in a fresh interpreter, whose torch has not started its thread pools (a process forked after they started
# can hang in its first forward pass): two forked children, each in a process group of its own, pack and embed the
# corpus with 2 tasks, and task 1 of each kills its whole group at its 4th document. The task, its executor and
# datatrove's manager process are gone at once, with no cleanup and no exception.
KILLED_RUNS = textwrap.dedent("""
    import os, signal, sys
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from greennlp.scale import ContentWordPacker, EmbeddingWriter, PackedBlockWriter

    raw, out, tokenizer, encoder = sys.argv[1:5]

    def killer(data, rank, world_size):
        for i, document in enumerate(data):
            if rank == 1 and i == 3:
                os.killpg(0, signal.SIGKILL)
            yield document

    pipelines = {
        "packing": [JsonlReader(raw), killer, ContentWordPacker(tokenizer, seq_len=32),
                    PackedBlockWriter(out + "/packed", batch_size=2)],
        "embedding": [JsonlReader(raw), killer, EmbeddingWriter(out + "/embeddings", encoder=encoder, batch_size=4,
                                                                max_length=64, device="cpu")],
    }
    children = []
    for name, pipeline in pipelines.items():
        pid = os.fork()
        if pid == 0:
            os.setpgid(0, 0)
            LocalPipelineExecutor(pipeline, tasks=2, workers=1, logging_dir=f"{out}/logs-{name}").run()
            os._exit(0)
        children.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    print("exit codes", codes)
    sys.exit(0 if codes == [-signal.SIGKILL] * 2 else 1)
""")


def test_a_task_killed_mid_run_and_its_rerun_give_the_clean_runs_shards(raw, tokenizer_folders, encoder_folders,
                                                                         clean_blocks, clean_embeddings, tmp_path):
    out = tmp_path / "killed"
    with open(tmp_path / "killed.log", "w") as log:
        killed = subprocess.run([sys.executable, "-c", KILLED_RUNS, str(raw), str(out), str(tokenizer_folders[0]),
                                 encoder_folders[0]], stdout=log, stderr=log, start_new_session=True, timeout=300)
    assert killed.returncode == 0, (tmp_path / "killed.log").read_text()[-3000:]
    with pytest.raises(ValueError, match=r"incomplete.*task\(s\) \[1\] of 2"):
        load(out / "packed", tmp_path, "killed")
    with pytest.raises(ValueError, match=r"incomplete.*task\(s\) \[1\] of 2"):
        fit_prototypes(out / "embeddings")
    # the reruns, with the same logging folders: datatrove runs task 1 only
    pack(raw, out / "packed", out / "logs-packing", tokenizer_folders[0], tasks=2)
    embed_corpus(raw, out / "embeddings", out / "logs-embedding", encoder_folders[0], tasks=2)
    assert load(out / "packed", tmp_path, "rerun").to_dict() == clean_blocks
    for name in ("00000.parquet", "00001.parquet"):
        rerun = pq.read_table(out / "embeddings" / name)
        clean = pq.read_table(clean_embeddings / name)
        assert rerun.column("id").equals(clean.column("id"))
        np.testing.assert_allclose(np.stack(rerun.column("embedding").to_numpy(zero_copy_only=False)),
                                   np.stack(clean.column("embedding").to_numpy(zero_copy_only=False)), atol=1e-6)
