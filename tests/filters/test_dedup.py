"""Semantic deduplication: the exact greedy rule on handmade vectors, against a brute-force reference, with any
partition; a static model built here from a tiny vocabulary; memory that never grows with n squared; D4."""
import tracemalloc

import numpy as np
import pytest
from datasets import Dataset
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from greennlp.filters import SemanticDeduplicator
from greennlp.filters.dedup import SIMILARITY_TOLERANCE, semantic_duplicates


def reference(vectors: np.ndarray, threshold: float, order=None):
    """The rule as written, pair by pair in float64: visit in order; drop a text whose similarity to an earlier
    kept text is >= threshold, as a repeat of the earliest visited one."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    order = range(len(unit)) if order is None else order
    keep, duplicate_of, kept = np.ones(len(unit), bool), np.full(len(unit), -1), []
    for i in order:
        for j in kept:
            if unit[i] @ unit[j] >= threshold - SIMILARITY_TOLERANCE:
                keep[i], duplicate_of[i] = False, j
                break
        else:
            kept.append(i)
    return keep, duplicate_of


def at_angle(cosine: float, dim: int = 4) -> np.ndarray:
    """A unit vector whose cosine similarity with e0 is ``cosine`` (in the e0-e1 plane)."""
    vector = np.zeros(dim)
    vector[0], vector[1] = cosine, np.sqrt(1 - cosine ** 2)
    return vector


def near_duplicates(n_groups: int, copies: int, dim: int, noise: float, seed: int) -> np.ndarray:
    """Random directions, each repeated with small noise, shuffled: known groups of near-duplicates."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_groups, dim))
    points = np.repeat(centers, copies, axis=0) + rng.normal(scale=noise, size=(n_groups * copies, dim))
    return points[rng.permutation(len(points))]


def test_handmade_groups_first_of_group_kept():
    e0, e2 = np.eye(4)[0], np.eye(4)[2]
    X = np.array([e0, at_angle(0.99), e2, at_angle(0.5), 3 * e0, e2 + 0.01 * e0, at_angle(0.97)])
    dedup = SemanticDeduplicator(threshold=0.95, progress=False).fit(X)
    # 1 and 4 and 6 repeat 0 (cosines .99, 1, .97); 5 repeats 2; 3 (cosine .5) is its own text
    np.testing.assert_array_equal(dedup.keep_, [True, False, True, True, False, False, False])
    np.testing.assert_array_equal(dedup.duplicate_of_, [-1, 0, -1, -1, 0, 2, 0])
    assert dedup.exact_ and dedup.n_features_in_ == 4
    assert dedup.keep_.dtype == bool and dedup.duplicate_of_.dtype.kind == "i"


def test_greedy_chains_compare_with_kept_texts_only():
    # a ~ b and b ~ c, but a and c are not near-duplicates: b is dropped (repeats a), so c is compared with a only
    a, b, c = at_angle(1.0), at_angle(np.cos(0.25)), at_angle(np.cos(0.5))
    dedup = SemanticDeduplicator(threshold=float(np.cos(0.3)), progress=False).fit(np.array([a, b, c]))
    np.testing.assert_array_equal(dedup.keep_, [True, False, True])
    # visiting b first keeps b and drops both a and c as its repeats
    dedup.fit(np.array([a, b, c]), priority=[0, 1, 0])
    np.testing.assert_array_equal(dedup.keep_, [False, True, False])
    np.testing.assert_array_equal(dedup.duplicate_of_, [1, -1, 1])


def test_duplicate_of_is_the_earliest_kept_match_not_the_closest():
    X = np.array([at_angle(1.0), at_angle(0.0), at_angle(0.96), at_angle(0.99)])
    X[1] = np.eye(4)[3]  # unrelated
    dedup = SemanticDeduplicator(threshold=0.95, progress=False).fit(X)
    np.testing.assert_array_equal(dedup.duplicate_of_, [-1, -1, 0, 0])


def test_priority_keeps_the_highest_of_each_group():
    X = np.array([np.eye(3)[0], np.eye(3)[1], np.eye(3)[0] * 2, np.eye(3)[1] * 5])
    dedup = SemanticDeduplicator(threshold=0.99, progress=False).fit(X, priority=[1.0, 0.0, 3.0, 0.0])
    np.testing.assert_array_equal(dedup.keep_, [False, True, True, False])  # ties (0.0) in input order
    np.testing.assert_array_equal(dedup.duplicate_of_, [2, -1, -1, 1])
    with pytest.raises(ValueError, match="one finite number per text"):
        dedup.fit(X, priority=[1.0, 2.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        dedup.fit(X, priority=[1.0, np.nan, 0.0, 0.0])


def test_threshold_edges():
    e0 = np.eye(4)[0]
    X = np.array([e0, at_angle(0.8), e0.copy(), at_angle(0.8 - 1e-3)])
    # exactly at the threshold counts; just below does not
    np.testing.assert_array_equal(SemanticDeduplicator(0.8, progress=False).fit(X).keep_, [True, False, False, True])
    # threshold 1: only identical directions (rounding within the tolerance) are repeats
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(50, 32)).astype(np.float32)
    Y[10], Y[20] = Y[3] * 7, Y[3]
    keep = SemanticDeduplicator(1.0, progress=False).fit(Y).keep_
    assert np.flatnonzero(~keep).tolist() == [10, 20]
    # a zero vector (a text with no known token) repeats nothing and is repeated by nothing
    Z = np.array([np.zeros(4), np.zeros(4), e0])
    assert SemanticDeduplicator(0.5, progress=False).fit(Z).keep_.all()


@pytest.mark.parametrize("threshold", [0.8, 0.9, 0.95])
def test_equals_brute_force_and_any_partition_gives_the_same_answer(threshold):
    X = near_duplicates(n_groups=150, copies=4, dim=16, noise=0.3, seed=1)
    expected_keep, expected_of = reference(X, threshold)
    assert 100 <= (~expected_keep).sum() < 450  # some groups split at this threshold: the order matters
    for n_cells, random_state in ((1, 0), (7, 0), (7, 3), (16, 1)):
        keep, duplicate_of, exact = semantic_duplicates(X, threshold, n_cells=n_cells, random_state=random_state)
        np.testing.assert_array_equal(keep, expected_keep)
        np.testing.assert_array_equal(duplicate_of, expected_of)
        assert exact
    order = np.random.default_rng(5).permutation(len(X))
    keep, duplicate_of, _ = semantic_duplicates(X, threshold, order=order, n_cells=7)
    expected_keep, expected_of = reference(X, threshold, order=order)
    np.testing.assert_array_equal(keep, expected_keep)
    np.testing.assert_array_equal(duplicate_of, expected_of)


def test_probing_fewer_cells_keeps_a_few_more_but_every_drop_is_sound():
    X = near_duplicates(n_groups=400, copies=3, dim=8, noise=0.2, seed=2)
    exact_keep, _ = reference(X, 0.9)
    keep, duplicate_of, exact = semantic_duplicates(X, 0.9, n_cells=30, n_probe=1)
    assert not exact and keep.sum() >= exact_keep.sum()
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    for i in np.flatnonzero(~keep):
        j = duplicate_of[i]
        assert keep[j] and j < i and unit[i] @ unit[j] >= 0.9 - SIMILARITY_TOLERANCE
    dedup = SemanticDeduplicator(0.9, n_cells=30, n_probe=1, progress=False).fit(X)
    assert not dedup.exact_
    np.testing.assert_array_equal(dedup.keep_, keep)


def test_deterministic():
    X = near_duplicates(n_groups=100, copies=3, dim=8, noise=0.1, seed=4)
    first = SemanticDeduplicator(0.9, n_cells=5, n_probe=2, random_state=3, progress=False).fit(X)
    again = SemanticDeduplicator(0.9, n_cells=5, n_probe=2, random_state=3, progress=False).fit(X)
    np.testing.assert_array_equal(first.keep_, again.keep_)
    np.testing.assert_array_equal(first.duplicate_of_, again.duplicate_of_)


def test_memory_never_grows_with_n_squared():
    n, dim = 20_000, 16
    X = near_duplicates(n_groups=n // 4, copies=4, dim=dim, noise=0.05, seed=6).astype(np.float32)
    tracemalloc.start()
    try:
        keep, _, _ = semantic_duplicates(X, 0.95)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # an n x n matrix would take n^2 bytes even as booleans (400 MB); the blocks take a few tens of MB
    assert peak < 64 * 2 ** 20, peak
    assert n // 4 - 50 <= keep.sum() <= n // 4 + 50


def test_bad_input_is_refused_with_what_was_passed():
    X = np.eye(3)
    for threshold in (0, -0.1, 1.5, True, "0.9", float("nan")):
        with pytest.raises(ValueError, match="threshold must be a cosine similarity in \\(0, 1\\]"):
            SemanticDeduplicator(threshold, progress=False).fit(X)
    with pytest.raises(ValueError, match="no texts"):
        SemanticDeduplicator(progress=False).fit([])
    with pytest.raises(ValueError, match="no texts"):
        SemanticDeduplicator(progress=False).fit(np.empty((0, 4)))
    with pytest.raises(TypeError, match="text 1 is None"):
        SemanticDeduplicator(progress=False).fit(["a", None, "b"])
    with pytest.raises(TypeError, match="got str"):
        SemanticDeduplicator(progress=False).fit("one text")
    with pytest.raises(ValueError, match="must be 2-D"):
        SemanticDeduplicator(progress=False).fit(np.zeros(5))
    with pytest.raises(ValueError, match="n_cells must be 'auto' or a positive integer; got 0"):
        SemanticDeduplicator(n_cells=0, progress=False).fit(X)
    with pytest.raises(ValueError, match="n_probe must be"):
        SemanticDeduplicator(n_probe=0, progress=False).fit(X)
    with pytest.raises(ValueError, match="text_column='text'"):
        SemanticDeduplicator(progress=False).fit(Dataset.from_dict({"body": ["a"]}))
    with pytest.raises(NotFittedError):
        SemanticDeduplicator().transform(Dataset.from_dict({"text": ["a"]}))


def test_scikit_learn_estimator():
    dedup = SemanticDeduplicator(0.9, n_cells=3)
    assert dedup.get_params()["threshold"] == 0.9 and dedup.get_params()["encoder"] is None
    copy = clone(dedup)
    assert copy is not dedup and copy.get_params() == dedup.get_params()
    assert SemanticDeduplicator(0.9, "an/encoder").encoder == "an/encoder"  # the contract's positional order
    with pytest.raises(TypeError):
        SemanticDeduplicator(0.9, None, 3)  # other options are keyword-only


def test_transform_keeps_columns_and_select_runs_d4():
    X = near_duplicates(n_groups=60, copies=3, dim=64, noise=0.02, seed=7)
    ds = Dataset.from_dict({"text": [f"t{i}" for i in range(len(X))], "label": [i % 2 for i in range(len(X))]})
    dedup = SemanticDeduplicator(0.9, progress=False).fit(X)
    kept = dedup.transform(ds)
    assert kept.column_names == ["text", "label"] and len(kept) == dedup.keep_.sum() == 60
    assert kept["text"] == [f"t{i}" for i in np.flatnonzero(dedup.keep_)]
    assert len(dedup.select(ds)) == 60 and dedup.removed_ == pytest.approx({"duplicates": 2 / 3, "prototypes": 0.0})
    d4 = dedup.select(ds, fraction=0.2, n_clusters=4)
    assert len(d4) == 36 and set(d4["text"]) <= set(kept["text"])
    assert dedup.removed_["duplicates"] == pytest.approx(2 / 3)
    assert dedup.removed_["prototypes"] == pytest.approx(24 / 180)
    ids = dedup.select(ds, fraction=0.2, n_clusters=4, return_ids=True)
    assert [f"t{i}" for i in ids] == d4["text"] and all(dedup.keep_[ids])
    with pytest.raises(ValueError, match="deduplication kept 60"):
        dedup.select(ds, fraction=0.5)
    with pytest.raises(ValueError, match="transform the dataset you fitted on"):
        dedup.transform(ds.select(range(10)))


# -- a static model built here: texts in, the same rule out ----------------------------------------------------------
@pytest.fixture(scope="module")
def static_model():
    model2vec = pytest.importorskip("model2vec")
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    words = ["[UNK]", "good", "great", "film", "movie", "bad", "plot", "the", "a", "dull"]
    tokenizer = Tokenizer(WordLevel({word: i for i, word in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    vectors = np.zeros((len(words), 4), dtype=np.float32)
    vectors[words.index("good")] = vectors[words.index("great")] = [1, 0, 0, 0]  # synonyms
    vectors[words.index("film")] = vectors[words.index("movie")] = [0, 1, 0, 0]
    vectors[words.index("bad")] = vectors[words.index("dull")] = [0, 0, 1, 0]
    vectors[words.index("plot")] = [0, 0, 0, 1]
    vectors[words.index("the")] = vectors[words.index("a")] = [0.05, 0.05, 0.05, 0.05]
    return model2vec.StaticModel(vectors, tokenizer)


def test_static_model_texts_and_dataset_column(static_model, tmp_path):
    texts = ["a good film", "the great movie", "a bad plot", "good film", "dull plot", "the plot"]
    dedup = SemanticDeduplicator(0.95, encoder=static_model, progress=False).fit(texts)
    np.testing.assert_array_equal(dedup.keep_, [True, False, True, False, False, True])
    np.testing.assert_array_equal(dedup.duplicate_of_, [-1, 0, -1, 0, 2, -1])
    # the same from a folder, and from a dataset or one of its columns; a folder is cached like a named encoder
    folder = tmp_path / "static"
    static_model.save_pretrained(folder)
    ds = Dataset.from_dict({"text": texts, "label": [1, 1, 0, 1, 0, 0]})
    for X in (ds, ds["text"]):
        other = SemanticDeduplicator(0.95, encoder=str(folder), cache_dir=tmp_path / "cache", progress=False).fit(X)
        np.testing.assert_array_equal(other.keep_, dedup.keep_)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    assert SemanticDeduplicator(0.95, encoder=static_model, progress=False).fit_transform(ds)["label"] == [1, 0, 0]
