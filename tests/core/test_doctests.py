"""The examples in the docstrings run: no module's doctests fail, and the pure modules (whose examples need no
model download) have examples that actually run, not only ``# doctest: +SKIP`` lines."""
from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
CAPABILITIES = ("datamaps", "filters", "masking", "fewshot", "encoders", "budgets", "inference", "scale")

# Modules whose examples build everything they need inline (tiny data, tokenizers trained on the fly, models
# from configs, spaCy's blank pipeline): each must run at least one example. Examples elsewhere need a hub
# model or a trained run and carry a targeted `# doctest: +SKIP`.
PURE_MODULES = (
    "greennlp._files",
    "greennlp.budgets.callback",
    "greennlp.budgets.curve",
    "greennlp.budgets.expected_max",
    "greennlp.budgets.flops",
    "greennlp.budgets.price_tag",
    "greennlp.datamaps.callback",
    "greennlp.datamaps.datamap",
    "greennlp.datamaps.metrics",
    "greennlp.datamaps.regions",
    "greennlp.encoders.data",
    "greennlp.encoders.embedding",
    "greennlp.encoders.finetune",
    "greennlp.encoders.models",
    "greennlp.encoders.tokenizers",
    "greennlp.fewshot.contrastive",
    "greennlp.fewshot.embedding_methods",
    "greennlp.fewshot.head",
    "greennlp.fewshot.in_context",
    "greennlp.fewshot.patterns",
    "greennlp.fewshot.protocol",
    "greennlp.fewshot.sampling",
    "greennlp.filters.cleaning",
    "greennlp.filters.dedup",
    "greennlp.filters.heuristics",
    "greennlp.filters.prototypes",
    "greennlp.filters.regions",
    "greennlp.filters.repetition",
    "greennlp.filters.selection",
    "greennlp.filters.stratified",
    "greennlp.inference.curve",
    "greennlp.inference.distillation",
    "greennlp.inference.early_exit",
    "greennlp.inference.heads",
    "greennlp.masking.alignment",
    "greennlp.masking.collator",
    "greennlp.masking.tagger",
)


def all_modules() -> list[str]:
    """Every module of the package, read from the source folders (greennlp/ and the capability folders)."""
    names = [f"greennlp.{path.stem}" for path in sorted((REPO / "greennlp").glob("*.py")) if path.stem != "__init__"]
    for capability in CAPABILITIES:
        names.append(f"greennlp.{capability}")
        names += [f"greennlp.{capability}.{path.stem}" for path in sorted((REPO / capability).glob("*.py"))
                  if path.stem != "__init__"]
    return names


def run_doctests(name: str) -> tuple[doctest.TestResults, str]:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.append)
        test.globs.clear()
    return runner.summarize(verbose=False), "".join(report)


@pytest.fixture
def one_thread():
    """torch on one thread while the examples train their tiny models: on 2 busy cores, two threads spin against
    each other (126 steps of BERT-tiny: 2.5 s on one thread, 11 to 20 s on two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", all_modules())
def test_docstring_examples_pass(name, tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)  # examples that write (a Trainer's output_dir) write here
    result, report = run_doctests(name)
    assert result.failed == 0, report
    if name in PURE_MODULES:
        assert result.attempted > 0, f"{name} is listed as pure but runs no docstring example"


def test_pure_modules_exist():
    assert set(PURE_MODULES) <= set(all_modules())
