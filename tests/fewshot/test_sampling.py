from collections import Counter

import pytest
from datasets import Dataset

from greennlp.fewshot import sample_k_shot


def _dataset(counts: dict[int, int]) -> Dataset:
    labels = [label for label, count in counts.items() for _ in range(count)]
    return Dataset.from_dict({"text": [f"text {i}" for i in range(len(labels))], "label": labels})


def test_balanced_and_drawn_from_the_dataset():
    data = _dataset({0: 30, 1: 10, 2: 50})
    sample = sample_k_shot(data, k=8, seed=3)
    assert Counter(sample["label"]) == {0: 8, 1: 8, 2: 8}
    assert len(set(sample["text"])) == 24
    assert set(sample["text"]) <= set(data["text"])
    assert sample["label"] != sorted(sample["label"])  # classes interleaved, not in blocks


def test_same_seed_same_sample_and_other_seed_differs():
    data = _dataset({0: 40, 1: 40})
    assert sample_k_shot(data, 4, seed=1)["text"] == sample_k_shot(data, 4, seed=1)["text"]
    assert set(sample_k_shot(data, 4, seed=1)["text"]) != set(sample_k_shot(data, 4, seed=2)["text"])


def test_custom_label_column():
    data = _dataset({0: 5, 1: 5}).rename_column("label", "y")
    assert Counter(sample_k_shot(data, 2, seed=0, label_column="y")["y"]) == {0: 2, 1: 2}


def test_errors_name_the_problem():
    data = _dataset({0: 10, 1: 3})
    with pytest.raises(ValueError, match=r"class\(es\) \{1: 3\}.*k <= 3"):
        sample_k_shot(data, k=4, seed=0)
    with pytest.raises(ValueError, match="positive integer"):
        sample_k_shot(data, k=0, seed=0)
    with pytest.raises(ValueError, match="no label column 'target'"):
        sample_k_shot(data, k=2, seed=0, label_column="target")
    with pytest.raises(ValueError, match="empty dataset"):
        sample_k_shot(data.select([]), k=1, seed=0)
    unlabelled = Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, None, 1]})
    with pytest.raises(ValueError, match=r"'label' has 1 missing label\(s\) \(None\).*dataset.filter"):
        sample_k_shot(unlabelled, k=1, seed=0)
    with pytest.raises(TypeError, match="datasets.Dataset"):
        sample_k_shot({"label": [0, 1]}, k=1, seed=0)
