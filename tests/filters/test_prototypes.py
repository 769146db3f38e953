"""Prototype pruning on synthetic embeddings with known clusters, and the embedding cache with a tiny model."""
import json

import numpy as np
import pytest
from datasets import Dataset
from sklearn.exceptions import NotFittedError
from synthetic import synthetic_sentiment

from greennlp.filters.embedding_cache import cached_embed, embedding_key
from greennlp.filters.prototypes import PrototypePruner, nearest_centroid_distance

DIM, PER_CLUSTER = 8, 30


def clustered(seed: int = 0):
    """Three tight clusters on axes 0, 1, 2 plus three outliers halfway between them (known hardest)."""
    rng = np.random.default_rng(seed)
    points, cluster = [], []
    for axis in range(3):
        center = np.eye(DIM)[axis] * 5
        points.append(center + rng.normal(scale=0.2, size=(PER_CLUSTER, DIM)))
        cluster += [axis] * PER_CLUSTER
    outliers = np.array([np.eye(DIM)[0] + np.eye(DIM)[1], np.eye(DIM)[1] + np.eye(DIM)[2],
                         np.eye(DIM)[0] + np.eye(DIM)[2]]) * 5
    return np.vstack(points + [outliers]), np.array(cluster + [-1, -1, -1])


def test_nearest_centroid_distance_is_cosine():
    centroids = np.array([[1.0, 0.0], [0.0, 2.0]])
    distances, nearest = nearest_centroid_distance(np.array([[3.0, 0.0], [1.0, 1.0], [0.0, -1.0]]), centroids)
    np.testing.assert_allclose(distances, [0.0, 1 - np.sqrt(0.5), 1.0], atol=1e-12)
    assert nearest[0] == 0 and nearest[1] in (0, 1)


def test_outliers_score_highest_and_clusters_are_recovered():
    X, cluster = clustered()
    pruner = PrototypePruner(n_clusters=3, random_state=0).fit(X)
    assert pruner.scores_.shape == (len(X),) and pruner.n_features_in_ == DIM
    hardest = np.argsort(-pruner.scores_)[:3]
    assert set(hardest) == {len(X) - 3, len(X) - 2, len(X) - 1}
    # every known cluster maps to exactly one k-means cluster
    for axis in range(3):
        assert len(set(pruner.clusters_[cluster == axis])) == 1
    assert len(set(pruner.clusters_[cluster >= 0])) == 3
    assert pruner.scores_[cluster >= 0].max() < pruner.scores_[cluster < 0].min()


def test_same_seed_same_scores_and_minibatch_agrees():
    X, _ = clustered()
    first = PrototypePruner(n_clusters=3, random_state=7).fit(X).scores_
    again = PrototypePruner(n_clusters=3, random_state=7).fit(X).scores_
    np.testing.assert_array_equal(first, again)
    minibatch = PrototypePruner(n_clusters=3, algorithm="minibatch", random_state=7).fit(X).scores_
    assert set(np.argsort(-minibatch)[:3]) == set(np.argsort(-first)[:3])


def test_select_hard_and_easy_exact_fraction():
    X, cluster = clustered()
    ds = Dataset.from_dict({"row": list(range(len(X))), "label": (cluster >= 0).astype(int).tolist()})
    pruner = PrototypePruner(n_clusters=3).fit(X)
    hard = pruner.select(ds, fraction=0.1, keep="hard")
    assert len(hard) == 9  # 0.1 of 93 = 9.3, rounded half up to 9
    assert {len(X) - 3, len(X) - 2, len(X) - 1} <= set(hard["row"])
    assert list(hard["row"]) == sorted(hard["row"])  # original order
    easy = pruner.select(ds, fraction=0.5, keep="easy")
    assert len(easy) == 47 and not {len(X) - 3, len(X) - 2, len(X) - 1} & set(easy["row"])
    stratified = pruner.select(ds, fraction=0.5, keep="hard", stratify=True)
    # 3 outliers (label 0) and 90 cluster points (label 1): quotas 2 and 45, hardest first in each class
    assert sorted(stratified["label"]).count(0) == 2 and len(stratified) == 47
    ids = pruner.select(ds, fraction=0.1, keep="hard", return_ids=True)
    assert sorted(np.asarray(ids).tolist()) == sorted(hard["row"])
    with pytest.raises(ValueError, match="keep='middle'"):
        pruner.select(ds, fraction=0.5, keep="middle")
    with pytest.raises(ValueError, match="select from the dataset you fitted on"):
        pruner.select(ds.select(range(10)), fraction=0.5)
    with pytest.raises(ValueError, match="fraction"):
        pruner.select(ds, fraction=1.5)


def test_per_class_clusters_each_class_and_score_samples():
    X, cluster = clustered()
    labels = np.where(cluster == 0, "a", "b")
    pruner = PrototypePruner(n_clusters=2, per_class=True).fit(X, y=labels)
    assert list(pruner.classes_) == ["a", "b"] and set(pruner.cluster_centers_) == {"a", "b"}
    assert pruner.cluster_centers_["a"].shape == (2, DIM)
    np.testing.assert_allclose(pruner.score_samples(X, y=labels), pruner.scores_, atol=1e-9)
    with pytest.raises(ValueError, match="needs labels"):
        PrototypePruner(n_clusters=2, per_class=True).fit(X)
    with pytest.raises(ValueError, match="not seen in fit"):
        pruner.score_samples(X[:2], y=["c", "c"])


def test_clear_errors():
    X, _ = clustered()
    with pytest.raises(ValueError, match="fewer than n_clusters=200"):
        PrototypePruner(n_clusters=200).fit(X)
    with pytest.raises(NotFittedError, match="not fitted"):
        PrototypePruner().select(Dataset.from_dict({"x": [1]}), 0.5)
    with pytest.raises(NotFittedError):
        PrototypePruner().score_samples(X)
    with pytest.raises(ValueError, match="must be 2-D"):
        PrototypePruner(n_clusters=2).fit(np.zeros(5))
    with pytest.raises(ValueError, match="algorithm='fast'"):
        PrototypePruner(n_clusters=2, algorithm="fast").fit(X)
    with pytest.raises(ValueError, match="dimension 3"):
        PrototypePruner(n_clusters=2).fit(X).score_samples(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="text_column='text'"):
        PrototypePruner(n_clusters=2).fit(Dataset.from_dict({"body": ["a"]}))
    with pytest.raises(ValueError, match="n_clusters must be a positive integer; got 0"):
        PrototypePruner(n_clusters=0).fit(X)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        PrototypePruner(batch_size=0).fit(X)


def test_pruner_is_a_scikit_learn_estimator():
    from sklearn.base import clone

    pruner = PrototypePruner(n_clusters=3, per_class=True, random_state=4)
    assert pruner.get_params()["n_clusters"] == 3 and "scores_" not in pruner.get_params()
    copy = clone(pruner)
    assert copy is not pruner and copy.get_params() == pruner.get_params()
    X, _ = clustered()
    fitted = PrototypePruner(n_clusters=3).fit(X)
    assert not hasattr(clone(fitted), "scores_")
    np.testing.assert_allclose(fitted.score_samples(X), fitted.scores_, atol=1e-9)
    with pytest.raises(TypeError):
        PrototypePruner("encoder", 3)  # options are keyword-only


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer):
    from greennlp.encoders import load_encoder

    folder = tmp_path_factory.mktemp("tiny_encoder")
    load_encoder("tiny", task="mlm", tokenizer=tiny_tokenizer, seed=0).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return str(folder)


def test_embedding_cache_round_trip(tmp_path, tiny_model_dir):
    texts = ["a good film", "a bad plot", "the actor was fine", "dull"]
    first = cached_embed(texts, tiny_model_dir, cache_dir=tmp_path, progress=False)
    files = sorted(p.name for p in tmp_path.iterdir())
    key = embedding_key(texts, tiny_model_dir, 256, True)
    assert files == [f"{key}.json", f"{key}.npy"]
    assert json.loads((tmp_path / f"{key}.json").read_text())["shape"] == list(first.shape)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    # a second call reads the file (prove it by overwriting it with a marker)
    np.save(tmp_path / f"{key}.npy", np.full_like(first, 7.0))
    assert (cached_embed(texts, tiny_model_dir, cache_dir=tmp_path) == 7.0).all()
    assert embedding_key(texts[::-1], tiny_model_dir, 256, True) != key
    with pytest.raises(TypeError, match="non-string"):
        cached_embed(["ok", None], tiny_model_dir, cache_dir=tmp_path)


def test_pruner_embeds_a_dataset_with_a_named_encoder(tmp_path, tiny_model_dir):
    ds = Dataset.from_dict(synthetic_sentiment(12, seed=3))
    pruner = PrototypePruner(tiny_model_dir, n_clusters=2, per_class=True, cache_dir=tmp_path,
                             progress=False).fit(ds)
    assert pruner.scores_.shape == (12,) and np.all(pruner.scores_ >= -1e-9)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    assert len(pruner.select(ds, fraction=0.25, keep="easy")) == 3


def test_pruner_and_deduplicator_embed_with_an_encoder_on_the_device(tiny_model_dir, device):
    from transformers import AutoModel

    from greennlp.encoders import load_tokenizer
    from greennlp.filters import SemanticDeduplicator

    texts = synthetic_sentiment(16, seed=4)["text"]
    texts[5] = texts[2]  # one exact duplicate
    encoder = AutoModel.from_pretrained(tiny_model_dir).to(device)
    tokenizer = load_tokenizer(tiny_model_dir)
    named = PrototypePruner(tiny_model_dir, n_clusters=2, cache_dir=False, progress=False).fit(texts)
    on_device = PrototypePruner(encoder, tokenizer=tokenizer, n_clusters=2, cache_dir=False, progress=False).fit(texts)
    np.testing.assert_allclose(on_device.scores_, named.scores_, atol=1e-4)
    dedup = SemanticDeduplicator(0.999, encoder=encoder, tokenizer=tokenizer, cache_dir=False, progress=False)
    assert dedup.fit(texts).duplicate_of_[5] == 2
