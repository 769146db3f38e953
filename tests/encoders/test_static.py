"""Static embeddings (model2vec): a model built here from a tiny vocabulary, embedded by ``encoders.embed`` as an
object or a folder, and used by the embedding-based filters. Skips when model2vec is not installed."""
import json
import sys

import numpy as np
import pytest

from greennlp.encoders import embed
from greennlp.encoders.embedding import is_static_model, load_static_model

WORDS = ["[UNK]", "good", "film", "bad", "plot", "the"]


@pytest.fixture(scope="module")
def static_model():
    model2vec = pytest.importorskip("model2vec")
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    tokenizer = Tokenizer(WordLevel({word: i for i, word in enumerate(WORDS)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    vectors = np.arange(len(WORDS) * 3, dtype=np.float32).reshape(len(WORDS), 3) % 5 - 2
    return model2vec.StaticModel(vectors, tokenizer)


def expected(model, text: str, normalize: bool = True) -> np.ndarray:
    """The mean of the known tokens' vectors (unknown words dropped), unit length."""
    rows = [WORDS.index(word) for word in text.split() if word in WORDS[1:]]
    vector = model.embedding[rows].mean(0) if rows else np.zeros(model.dim, dtype=np.float32)
    return vector / max(np.linalg.norm(vector), 1e-12) if normalize else vector


def test_embed_a_static_model_object_and_folder(static_model, tmp_path):
    texts = ["good film", "the bad plot", "unknown words only", "good"]
    vectors = embed(texts, static_model)
    assert vectors.shape == (4, 3) and vectors.dtype == np.float32
    for row, text in zip(vectors, texts, strict=True):
        np.testing.assert_allclose(row, expected(static_model, text), atol=1e-6)
    np.testing.assert_array_equal(vectors[2], 0)  # no known token: the zero vector, as a transformer's padding
    raw = embed(texts, static_model, normalize=False)
    np.testing.assert_allclose(raw[0], expected(static_model, "good film", normalize=False), atol=1e-6)
    folder = tmp_path / "static"
    static_model.save_pretrained(folder)
    assert is_static_model(folder) and is_static_model(str(folder)) and is_static_model(static_model)
    np.testing.assert_allclose(embed(texts, str(folder)), vectors, atol=1e-6)
    np.testing.assert_allclose(embed(texts, folder), vectors, atol=1e-6)  # a Path works as a str
    assert embed([], static_model).shape == (0, 3)


def test_max_length_truncates_tokens(static_model):
    np.testing.assert_allclose(embed(["good film bad plot"], static_model, max_length=1)[0],
                               expected(static_model, "good"), atol=1e-6)


def test_distilled_config_is_recognised_and_other_folders_are_not(static_model, tmp_path):
    folder = tmp_path / "distilled"
    static_model.save_pretrained(folder)
    (folder / "modules.json").unlink()
    assert not is_static_model(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "model2vec", "hidden_dim": 3}))
    assert is_static_model(folder)
    assert not is_static_model(tmp_path / "missing") and not is_static_model("sentence-transformers/all-MiniLM-L6-v2")
    assert not is_static_model(object())
    with pytest.raises(ValueError, match="is not a model2vec static model folder"):
        load_static_model(tmp_path)


def test_prototype_pruner_takes_a_static_folder(static_model, tmp_path):
    from greennlp.filters import PrototypePruner

    folder = tmp_path / "static"
    static_model.save_pretrained(folder)
    texts = ["good film", "good", "film", "bad plot", "bad", "plot", "the good film", "the bad plot"]
    pruner = PrototypePruner(str(folder), n_clusters=2, cache_dir=tmp_path / "cache", progress=False).fit(texts)
    assert pruner.scores_.shape == (8,) and pruner.n_features_in_ == 3
    again = PrototypePruner(static_model, n_clusters=2, progress=False).fit(texts)
    np.testing.assert_allclose(again.scores_, pruner.scores_, atol=1e-6)


def test_loading_a_folder_without_model2vec_says_what_to_install(static_model, tmp_path, monkeypatch):
    folder = tmp_path / "static"
    static_model.save_pretrained(folder)
    monkeypatch.setitem(sys.modules, "model2vec", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install greennlp\[static\]"):
        embed(["good film"], str(folder))
