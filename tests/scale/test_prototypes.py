"""Prototype pruning in datatrove's shape: embeddings per task (3 tasks, 2 workers), k-means on a sample, scores per
task and a global selection give PrototypePruner's scores and selection on the same documents."""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from devices import DEVICES
from sklearn.exceptions import NotFittedError

from greennlp.encoders import embed, load_encoder, train_wordpiece_tokenizer
from greennlp.filters import PrototypePruner
from greennlp.scale import EmbeddingWriter, PrototypeScorer, fit_prototypes, select_by_prototype_score

from .conftest import write_jsonl_folder

MAX_LENGTH, N_CLUSTERS = 64, 4


@pytest.fixture(scope="module")
def corpus(documents) -> list[str]:
    return [text for text in documents if text][:90]


@pytest.fixture(scope="module")
def encoder_folder(corpus, tmp_path_factory) -> str:
    """A tiny random-weight encoder built from a config (no hub), saved with its tokenizer."""
    folder = tmp_path_factory.mktemp("encoder")
    tokenizer = train_wordpiece_tokenizer(corpus, vocab_size=400)
    load_encoder("tiny", task="mlm", tokenizer=tokenizer, seed=0).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def sharded(corpus, encoder_folder, tmp_path_factory):
    root = tmp_path_factory.mktemp("prototypes")
    ids = write_jsonl_folder(root / "raw", corpus, n_files=3)
    LocalPipelineExecutor(
        [JsonlReader(str(root / "raw")),
         EmbeddingWriter(root / "embeddings", encoder=encoder_folder, batch_size=8, max_length=MAX_LENGTH,
                         device="cpu")],
        tasks=3, workers=2, logging_dir=str(root / "logs-embed"), start_method="fork").run()
    pruner = fit_prototypes(root / "embeddings", n_clusters=N_CLUSTERS, sample_size=50, random_state=0)
    # 2 scoring tasks for 3 embedding shards: a task scores every other shard
    LocalPipelineExecutor([PrototypeScorer(pruner, root / "embeddings", root / "scores")], tasks=2, workers=2,
                          logging_dir=str(root / "logs-score"), start_method="fork").run()
    return root, dict(zip(ids, corpus, strict=True)), pruner


def test_shards_hold_each_document_once_embedded_as_the_pruner_embeds(sharded, encoder_folder):
    root, texts, _ = sharded
    files = sorted(path.name for path in (root / "embeddings").iterdir() if path.is_file())
    assert files == ["00000.parquet", "00001.parquet", "00002.parquet"]  # no temporary file left behind
    records = sorted(path.name for path in (root / "embeddings" / "_greennlp").iterdir())
    assert records == ["task-00000.json", "task-00001.json", "task-00002.json"]  # each task's record of its shard
    tables = [pq.read_table(root / "embeddings" / name) for name in files]
    ids = [doc_id for table in tables for doc_id in table.column("id").to_pylist()]
    assert sorted(ids) == sorted(texts)
    vectors = np.concatenate([np.stack(table.column("embedding").to_numpy(zero_copy_only=False)) for table in tables])
    expected = embed([texts[doc_id] for doc_id in ids], encoder_folder, max_length=MAX_LENGTH)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_fit_prototypes_clusters_a_sample_with_the_shards_encoder(sharded, encoder_folder):
    root, _, pruner = sharded
    assert isinstance(pruner, PrototypePruner)
    assert pruner.encoder == encoder_folder and pruner.max_length == MAX_LENGTH
    assert pruner.cluster_centers_.shape == (N_CLUSTERS, pruner.n_features_in_)
    assert pruner.scores_.shape == (50,)  # fitted on the sample, not on all 90 documents
    again = fit_prototypes(root / "embeddings", n_clusters=N_CLUSTERS, sample_size=50, random_state=0)
    np.testing.assert_array_equal(again.cluster_centers_, pruner.cluster_centers_)


def test_sharded_scores_equal_the_pruners_scores(sharded):
    root, texts, pruner = sharded
    frame = select_by_prototype_score(root / "scores", fraction=0.3, keep="hard")
    assert sorted(frame.index) == sorted(texts) and list(frame.columns) == ["score", "cluster", "kept"]
    ids = list(texts)
    expected = pruner.set_params(cache_dir=False).score_samples([texts[doc_id] for doc_id in ids])
    # the shards were embedded on the CPU, the pruner embeds where a named encoder loads (a GPU when there is one)
    np.testing.assert_allclose(frame.loc[ids, "score"].to_numpy(), expected, atol=1e-6 if DEVICES == ["cpu"] else 1e-5)
    assert frame["score"].std() > 1e-3  # the scores do discriminate
    assert frame["cluster"].between(0, N_CLUSTERS - 1).all()
    # one global ranking across shards: the 27 (0.3 of 90) documents farthest from their prototype
    hardest = {ids[i] for i in np.argsort(-expected)[:27]}
    assert set(frame.index[frame["kept"]]) == hardest
    easy = select_by_prototype_score(root / "scores", fraction=0.3, keep="easy")
    assert set(easy.index[easy["kept"]]) == {ids[i] for i in np.argsort(expected)[:27]}
    threshold = frame["score"][frame["kept"]].min()
    above = select_by_prototype_score(root / "scores", threshold=threshold)
    assert above["kept"].equals(frame["kept"])


def test_a_failed_task_leaves_no_shard(tmp_path, encoder_folder):
    def documents_then_crash():
        for i in range(20):
            yield Document(text=f"document number {i}", id=str(i))
        raise RuntimeError("the task died")

    step = EmbeddingWriter(tmp_path / "embeddings", encoder=encoder_folder, batch_size=4, device="cpu")
    with pytest.raises(RuntimeError, match="the task died"):
        list(step.run(documents_then_crash(), rank=0, world_size=1))
    assert list((tmp_path / "embeddings").iterdir()) == []


def test_embedding_writer_embeds_on_the_device_as_embed_does(tmp_path, corpus, encoder_folder, device):
    ids = write_jsonl_folder(tmp_path / "raw", corpus[:24], n_files=1)
    # one worker: the task runs in this process (a forked worker could not use a GPU this process has initialised)
    LocalPipelineExecutor(
        [JsonlReader(str(tmp_path / "raw")),
         EmbeddingWriter(tmp_path / "embeddings", encoder=encoder_folder, batch_size=8, max_length=MAX_LENGTH,
                         device=device)],
        tasks=1, workers=1, logging_dir=str(tmp_path / "logs")).run()
    table = pq.read_table(tmp_path / "embeddings" / "00000.parquet")
    texts = dict(zip(ids, corpus[:24], strict=True))
    vectors = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    order = [texts[doc_id] for doc_id in table.column("id").to_pylist()]
    np.testing.assert_allclose(vectors, embed(order, encoder_folder, max_length=MAX_LENGTH), atol=1e-5)


def test_refuses_what_it_cannot_score(tmp_path, sharded):
    root, _, pruner = sharded
    with pytest.raises(FileNotFoundError, match="EmbeddingWriter"):
        fit_prototypes(tmp_path)
    with pytest.raises(ValueError, match="sample_size"):
        fit_prototypes(root / "embeddings", sample_size=0)
    with pytest.raises(NotFittedError):
        PrototypeScorer(PrototypePruner(), root / "embeddings", tmp_path / "scores")
    per_class = PrototypePruner(n_clusters=2, per_class=True).fit(np.eye(4)[[0, 0, 1, 1, 2, 2, 3, 3]] + 0.1,
                                                                  y=[0, 0, 0, 0, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="per_class"):
        PrototypeScorer(per_class, root / "embeddings", tmp_path / "scores")
    with pytest.raises(ValueError, match="keep='middle'"):
        select_by_prototype_score(root / "scores", fraction=0.5, keep="middle")
    with pytest.raises(TypeError, match="hub id or a local folder"):
        EmbeddingWriter(tmp_path, encoder=pruner)
