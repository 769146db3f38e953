"""QualityFilter decides as annotate_quality does, alone and inside a LocalPipelineExecutor pipeline."""
from __future__ import annotations

import importlib
import json
import sys

import pytest
from datasets import Dataset
from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from greennlp.filters import annotate_quality, default_rules
from greennlp.scale import QualityFilter

from .conftest import read_jsonl_folder, write_jsonl_folder


def decisions(step: QualityFilter, texts: list[str]) -> list[str]:
    """The reason column annotate_quality would write ("" = kept), from the datatrove filter."""
    results = [step.filter(Document(text=text, id=str(i))) for i, text in enumerate(texts)]
    return ["" if result is True else result[1] for result in results]


def test_default_chain_matches_annotate_quality(documents):
    expected = annotate_quality(Dataset.from_dict({"text": documents}))["drop_reason"]
    assert decisions(QualityFilter(), documents) == expected
    assert sum(reason == "" for reason in expected) > len(documents) // 2  # real text is mostly kept
    assert len({reason for reason in expected if reason}) >= 3  # and several rules fire


def test_custom_rules_match_annotate_quality(documents):
    rules = default_rules(only=["word_count", "repeated_lines"], word_count={"min_words": 120})
    expected = annotate_quality(Dataset.from_dict({"text": documents}), rules=rules)["drop_reason"]
    assert decisions(QualityFilter(rules), documents) == expected
    assert "word_count" in expected


def test_rejects_what_annotate_quality_rejects():
    with pytest.raises(TypeError, match="QualityRule"):
        QualityFilter(rules=["word_count"])
    with pytest.raises(ValueError, match="empty"):
        QualityFilter(rules=[])


def test_local_executor_keeps_exactly_the_expected_documents(documents, tmp_path):
    ids = write_jsonl_folder(tmp_path / "raw", documents, n_files=3)
    reasons = annotate_quality(Dataset.from_dict({"text": documents}))["drop_reason"]
    # datatrove's readers skip documents with empty text before any filter sees them
    read = [i for i, text in enumerate(documents) if text]
    ids, reasons = [ids[i] for i in read], [reasons[i] for i in read]
    expected_kept = {doc_id for doc_id, reason in zip(ids, reasons, strict=True) if not reason}
    pipeline = [
        JsonlReader(str(tmp_path / "raw")),
        QualityFilter(exclusion_writer=JsonlWriter(str(tmp_path / "removed"))),
        JsonlWriter(str(tmp_path / "kept")),
    ]
    LocalPipelineExecutor(pipeline, tasks=3, workers=2, logging_dir=str(tmp_path / "logs"),
                          start_method="fork").run()

    kept = read_jsonl_folder(tmp_path / "kept")
    assert sorted(row["id"] for row in kept) == sorted(expected_kept)
    removed = read_jsonl_folder(tmp_path / "removed")
    assert {row["id"]: row["metadata"]["filter_reason"] for row in removed} == \
        {doc_id: reason for doc_id, reason in zip(ids, reasons, strict=True) if reason}
    stats = json.loads((tmp_path / "logs" / "stats.json").read_text())
    filter_stats = next(step["stats"] for step in stats if "quality rules" in step["name"])
    for reason in set(reasons) - {""}:
        assert filter_stats[f"dropped_{reason}"] == reasons.count(reason)


def test_missing_datatrove_names_the_extra(monkeypatch):
    for name in [name for name in sys.modules if name == "datatrove" or name.startswith("datatrove.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "datatrove", None)
    monkeypatch.delitem(sys.modules, "greennlp.scale.cleaning", raising=False)
    with pytest.raises(ImportError, match=r"pip install greennlp\[scale\]"):
        importlib.import_module("greennlp.scale.cleaning")
    monkeypatch.delitem(sys.modules, "greennlp.scale.cleaning", raising=False)


def test_public_api_and_docstring_examples():
    import doctest

    import greennlp.scale as scale
    import greennlp.scale.cleaning as cleaning

    assert scale.__all__ == sorted(scale._EXPORTS)
    assert doctest.testmod(cleaning).failed == 0
