"""Semantic deduplication over EmbeddingWriter shards (3 tasks) keeps the ids SemanticDeduplicator keeps on the same
corpus in shard order, and the shards feed prototype pruning too (embedded once)."""
from __future__ import annotations

import numpy as np
import pytest
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.filters import LambdaFilter
from datatrove.pipeline.readers import JsonlReader

from greennlp.encoders import load_encoder, train_wordpiece_tokenizer
from greennlp.filters import SemanticDeduplicator
from greennlp.scale import EmbeddingWriter, deduplicate_shards, fit_prototypes

from .conftest import write_jsonl_folder

MAX_LENGTH = 64


@pytest.fixture(scope="module")
def corpus(documents) -> list[str]:
    """Real documents, some repeated verbatim and some with a changed ending: known repeats."""
    texts = [text for text in documents if text][:60]
    return texts + texts[:8] + [text[:-10] + " the end." for text in texts[8:14]]


@pytest.fixture(scope="module")
def encoder_folder(corpus, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("encoder")
    tokenizer = train_wordpiece_tokenizer(corpus, vocab_size=400)
    load_encoder("tiny", task="mlm", tokenizer=tokenizer, seed=0).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def embedded(corpus, encoder_folder, tmp_path_factory):
    root = tmp_path_factory.mktemp("dedup")
    ids = write_jsonl_folder(root / "raw", corpus, n_files=3)
    LocalPipelineExecutor(
        [JsonlReader(str(root / "raw")),
         EmbeddingWriter(root / "embeddings", encoder=encoder_folder, batch_size=8, max_length=MAX_LENGTH,
                         device="cpu")],
        tasks=3, workers=1, logging_dir=str(root / "logs-embed")).run()  # in this process: no fork after torch
    return root, dict(zip(ids, corpus, strict=True))


@pytest.mark.parametrize("threshold", [0.999, 1.0])
def test_shards_keep_what_the_deduplicator_keeps(embedded, encoder_folder, threshold):
    root, texts = embedded
    decisions = deduplicate_shards(root / "embeddings", threshold=threshold)
    order = list(decisions.index)  # shard order: by task, then as each task read its file
    assert sorted(order) == sorted(texts)
    single = SemanticDeduplicator(threshold, encoder=encoder_folder, max_length=MAX_LENGTH, cache_dir=False,
                                  progress=False).fit([texts[doc_id] for doc_id in order])
    np.testing.assert_array_equal(decisions["keep"].to_numpy(), single.keep_)
    expected_of = [order[j] if j >= 0 else None for j in single.duplicate_of_]
    assert list(decisions["duplicate_of"]) == expected_of
    assert decisions.attrs["exact"] and decisions.attrs["threshold"] == threshold
    # every repeat names a kept document; the verbatim copies are all repeats
    assert decisions.loc[decisions["duplicate_of"][~decisions["keep"]], "keep"].all()
    verbatim = {doc_id for doc_id in texts if list(texts.values()).count(texts[doc_id]) > 1}
    assert (~decisions.loc[sorted(verbatim), "keep"]).sum() == 8


def test_kept_documents_flow_on_through_a_lambda_filter(embedded, tmp_path):
    root, texts = embedded
    kept = deduplicate_shards(root / "embeddings", threshold=1.0)["keep"].to_dict()
    seen = []

    def collect(data, rank=0, world_size=1):
        seen.extend(doc.id for doc in data)
        yield from ()

    LocalPipelineExecutor([JsonlReader(str(root / "raw")), LambdaFilter(lambda doc: kept[doc.id]), collect],
                          tasks=1, logging_dir=str(tmp_path / "logs")).run()
    assert sorted(seen) == sorted(doc_id for doc_id, keep in kept.items() if keep)


def test_the_same_shards_feed_prototype_pruning(embedded):
    root, _ = embedded
    pruner = fit_prototypes(root / "embeddings", n_clusters=3, random_state=0)
    assert pruner.scores_.shape == (len(deduplicate_shards(root / "embeddings")),)


def test_refuses_a_folder_without_shards_and_a_bad_threshold(embedded, tmp_path):
    root, _ = embedded
    with pytest.raises(FileNotFoundError, match="no \\*.parquet shards"):
        deduplicate_shards(tmp_path)
    with pytest.raises(ValueError, match="threshold must be a cosine similarity"):
        deduplicate_shards(root / "embeddings", threshold=0)
