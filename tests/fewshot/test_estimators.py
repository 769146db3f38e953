"""Every few-shot method (and the prototype pruner) is a scikit-learn estimator; fit leaves global state alone;
run_benchmark runs every method."""
import random

import numpy as np
import pytest
import torch
from datasets import Dataset, Value
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_set_params,
)

import greennlp.fewshot as fewshot
from greennlp.encoders.models import DEFAULT_PRETRAINED
from greennlp.fewshot import (
    ContrastiveClassifier,
    HeadClassifier,
    InContextClassifier,
    LinearProbe,
    PatternClassifier,
    PrototypeClassifier,
    run_benchmark,
)
from greennlp.filters import PrototypePruner

ESTIMATORS = [getattr(fewshot, name) for name in fewshot.__all__ if isinstance(getattr(fewshot, name), type)]
ESTIMATORS.append(PrototypePruner)
VERBALIZER = {0: "bad", 1: "good"}


def test_every_exported_class_is_an_estimator():
    assert {cls.__name__ for cls in ESTIMATORS} == {
        "FewShotClassifier", "HeadClassifier", "LinearProbe", "PrototypeClassifier", "ContrastiveClassifier",
        "PatternClassifier", "InContextClassifier", "PrototypePruner"}
    assert all(issubclass(cls, BaseEstimator) for cls in ESTIMATORS)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_clone_keeps_every_parameter(cls):
    estimator = cls()
    assert clone(estimator).get_params() == estimator.get_params()
    changed = estimator.set_params(**{"seed" if "seed" in estimator.get_params() else "random_state": 5})
    copy = clone(changed)
    assert copy is not changed and copy.get_params() == changed.get_params()
    for check in (check_no_attributes_set_in_init, check_get_params_invariance, check_set_params):
        check(cls.__name__, cls())


@pytest.mark.parametrize("cls", [c for c in ESTIMATORS if c is not PrototypePruner], ids=lambda cls: cls.__name__)
def test_options_are_keyword_only_and_predict_needs_fit(cls):
    assert cls("a/path").model_name_or_path == "a/path"  # the checkpoint may stay positional
    with pytest.raises(TypeError):
        cls("a/path", 3)
    with pytest.raises(NotFittedError):
        cls().predict_proba(["a film"])


def test_clone_of_the_in_context_classifier_has_only_its_own_parameters():
    # the 0.1.0 bug: the benchmark rebuilt methods from vars(self), and InContextClassifier got max_length
    method = InContextClassifier("gpt2", verbalizer=VERBALIZER, num_demonstrations=2, seed=1)
    assert "max_length" not in method.get_params()
    assert clone(method).set_params(seed=4).get_params() == {**method.get_params(), "seed": 4}


def test_sentence_encoder_methods_default_to_the_one_default_encoder():
    for cls in (HeadClassifier, LinearProbe, PrototypeClassifier, ContrastiveClassifier):
        assert cls().model_name_or_path == DEFAULT_PRETRAINED == PrototypePruner().encoder


def test_parameters_are_checked_in_fit_with_the_value_named(tiny_bert_path, tiny_train):
    bad = PrototypeClassifier(tiny_bert_path, temperature=-1.0)  # stored as given: no error yet
    assert bad.temperature == -1.0
    with pytest.raises(ValueError, match=r"PrototypeClassifier\(temperature=-1.0\): temperature must be a number > 0"):
        bad.fit(tiny_train)
    with pytest.raises(ValueError, match=r"batch_size=0"):
        LinearProbe(tiny_bert_path, batch_size=0).fit(tiny_train)
    with pytest.raises(ValueError, match="max_pairs"):
        ContrastiveClassifier(tiny_bert_path, max_pairs=1).fit(tiny_train)
    with pytest.raises(ValueError, match=r"LinearProbe\(device='gpu0'\): give a torch device"):
        LinearProbe(tiny_bert_path, device="gpu0").fit(tiny_train)


def test_string_and_float_labels_are_refused_with_the_fix(tiny_bert_path, tiny_train):
    words = tiny_train.map(lambda row: {"label": "pos" if row["label"] else "neg"})
    with pytest.raises(ValueError, match=r"column 'label' must be integer class ids.*class_encode_column\('label'\)"):
        LinearProbe(tiny_bert_path).fit(words)
    floats = tiny_train.cast_column("label", Value("float64"))
    with pytest.raises(ValueError, match=r"0\.0, 1\.0.*cast_column"):
        LinearProbe(tiny_bert_path).fit(floats)


def test_texts_and_labels_work_like_scikit_learn(tiny_bert_path, tiny_train, tiny_test):
    from sklearn.metrics import accuracy_score

    model = LinearProbe(tiny_bert_path).fit(tiny_train["text"], tiny_train["label"])
    predictions = model.predict(tiny_test["text"])
    assert model.score(tiny_test) == model.score(tiny_test["text"], tiny_test["label"])
    assert model.score(tiny_test) == accuracy_score(tiny_test["label"], predictions)
    with pytest.raises(ValueError, match="one label per text"):
        LinearProbe(tiny_bert_path).fit(tiny_train["text"], [0, 1])


def _global_state():
    return random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()


def _same_state(first, second) -> bool:
    return first[0] == second[0] and np.array_equal(first[1], second[1]) and torch.equal(first[2], second[2])


def test_fit_is_seeded_locally(tiny_bert_path, tiny_train, tiny_test):
    results = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        before = _global_state()
        model = PrototypeClassifier(tiny_bert_path, adapter=True, num_epochs=3, seed=0).fit(tiny_train)
        assert _same_state(before, _global_state())
        results.append(model.predict_proba(tiny_test["text"]))
    np.testing.assert_array_equal(results[0], results[1])


def test_every_method_runs_in_the_benchmark_and_leaves_global_random_state_alone(
    tiny_bert_path, tiny_gpt2_path, tiny_train, tiny_test, tmp_path
):
    fast = {"learning_rate": 1e-3, "bf16": False}
    methods = {
        "head": HeadClassifier(tiny_bert_path, num_epochs=1, **fast),
        "probe": LinearProbe(tiny_bert_path),
        "prototype": PrototypeClassifier(tiny_bert_path),
        "prototype-adapter": PrototypeClassifier(tiny_bert_path, adapter=True, num_epochs=2),
        "contrastive": ContrastiveClassifier(tiny_bert_path, num_iterations=1, **fast),
        "pattern": PatternClassifier(tiny_bert_path, verbalizer=VERBALIZER, num_epochs=1, **fast),
        "pattern-zeroshot": PatternClassifier(tiny_bert_path, verbalizer=VERBALIZER, num_epochs=0),
        "in-context": InContextClassifier(tiny_gpt2_path, verbalizer={0: "negative", 1: "positive"},
                                          num_demonstrations=2),
    }
    evaluation = Dataset.from_dict(tiny_test[:6])
    before = _global_state()
    runs = run_benchmark(methods, tiny_train, k_values=(2,), seeds=[0], eval_dataset=evaluation,
                         output_dir=tmp_path, dataset_name="toy", count_flops=False)
    assert _same_state(before, _global_state())
    assert runs["method"].tolist() == list(methods)
    assert runs["accuracy"].between(0, 1).all() and (runs["n_train"] == 4).all()
    assert (tmp_path / "accuracy_vs_k.png").is_file()
