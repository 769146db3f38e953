import numpy as np
import pytest
from datasets import Dataset
from sklearn.exceptions import NotFittedError

from greennlp.fewshot import ContrastiveClassifier, HeadClassifier, LinearProbe, PrototypeClassifier
from greennlp.fewshot.contrastive import generate_pairs

FAST = {
    "head": (HeadClassifier, {"num_epochs": 2, "learning_rate": 1e-3, "bf16": False}),
    "probe": (LinearProbe, {}),
    "contrastive": (ContrastiveClassifier, {"num_iterations": 2, "learning_rate": 1e-3, "bf16": False}),
    "prototype": (PrototypeClassifier, {}),
    "prototype-adapter": (PrototypeClassifier, {"adapter": True, "num_epochs": 20}),
}


@pytest.mark.parametrize("name", FAST)
def test_round_trip_probabilities_and_determinism(name, tiny_bert_path, tiny_train, tiny_test, device):
    method, options = FAST[name]
    model = method(tiny_bert_path, seed=0, device=device, **options).fit(tiny_train)
    probabilities = model.predict_proba(tiny_test["text"])
    assert probabilities.shape == (len(tiny_test), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(probabilities >= 0)
    predictions = model.predict(tiny_test["text"])
    assert len(predictions) == len(tiny_test) and set(predictions) <= {0, 1}
    assert predictions == probabilities.argmax(axis=1).tolist()
    assert model.predict(tiny_test) == predictions  # a Dataset works too
    assert 0.0 <= model.score(tiny_test) <= 1.0
    assert model.fit_seconds_ > 0 and model.num_trainable_parameters_ >= 0
    again = method(tiny_bert_path, seed=0, device=device, **options).fit(tiny_train)
    # bit for bit on the CPU; a GPU's backward pass may add up in another order
    np.testing.assert_allclose(again.predict_proba(tiny_test["text"]), probabilities,
                               atol=1e-5 if device == "cpu" else 1e-4)


def test_labels_are_returned_in_the_callers_values(tiny_bert_path, tiny_train, tiny_test):
    train = tiny_train.map(lambda row: {"label": 7 if row["label"] else -2, "sentence": row["text"]})
    model = LinearProbe(tiny_bert_path, text_column="sentence").fit(train)
    assert model.classes_.tolist() == [-2, 7]
    assert set(model.predict(tiny_test["text"])) <= {-2, 7}


def test_trainable_parameters_reflect_what_each_method_updates(tiny_bert_path, tiny_train):
    probe = LinearProbe(tiny_bert_path).fit(tiny_train)
    assert probe.num_trainable_parameters_ == 32 + 1  # binary logistic regression on 32-d embeddings
    assert PrototypeClassifier(tiny_bert_path).fit(tiny_train).num_trainable_parameters_ == 0
    adapter = PrototypeClassifier(tiny_bert_path, adapter=True, adapter_size=4, num_epochs=1).fit(tiny_train)
    assert adapter.num_trainable_parameters_ == (32 * 4 + 4) + (4 * 32 + 32) + 2 * 32


def test_input_errors(tiny_bert_path, tiny_train):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        LinearProbe(tiny_bert_path).predict(["a film"])
    with pytest.raises(ValueError, match=r"no column\(s\) \['review'\].*text_column="):
        LinearProbe(tiny_bert_path, text_column="review").fit(tiny_train)
    with pytest.raises(ValueError, match="at least two classes"):
        LinearProbe(tiny_bert_path).fit(tiny_train.filter(lambda row: row["label"] == 1))
    with pytest.raises(TypeError, match="datasets.Dataset"):
        LinearProbe(tiny_bert_path).fit({"text": ["a"], "label": [0]})
    with pytest.raises(TypeError, match="wrap it as"):
        LinearProbe(tiny_bert_path).fit(tiny_train).predict("a single string")


def test_pairs_are_balanced_bounded_and_correct():
    labels = np.repeat(np.arange(50), 2)  # 50 classes: all pairs would be 4,950
    pairs = generate_pairs(labels, num_pairs=200, seed=0)
    assert pairs.shape == (200, 3)
    first, second, target = pairs.T
    assert target.sum() == 100
    np.testing.assert_array_equal(labels[first] == labels[second], target.astype(bool))
    assert np.all(first != second)
    np.testing.assert_array_equal(generate_pairs(labels, 200, seed=0), pairs)


def test_pairs_bounded_by_max_pairs(tiny_bert_path):
    train = Dataset.from_dict({"text": [f"w{i % 7} film" for i in range(60)], "label": [i % 6 for i in range(60)]})
    model = ContrastiveClassifier(tiny_bert_path, num_iterations=20, max_pairs=30, batch_size=30,
                                  bf16=False).fit(train)
    assert len(model.pairs_) == 30
    assert model.predict_proba(["w1 film"]).shape == (1, 6)


def test_pair_errors():
    with pytest.raises(ValueError, match="two or more examples"):
        generate_pairs(np.array([0, 1, 2]), 10, seed=0)
    with pytest.raises(ValueError, match="at least two classes"):
        generate_pairs(np.array([0, 0, 0]), 10, seed=0)
