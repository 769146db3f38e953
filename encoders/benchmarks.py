"""Load the standard benchmark sets (SST-2, IMDB, CR, MR, TREC, WikiText-2) as ``datasets.Dataset``.

Source order: an explicit ``data_dir``, then the ``GREENNLP_DATA_DIR`` environment variable, then the
Hugging Face hub. Every classification set comes back with a ``text`` and an integer ``label`` column.
"""
from __future__ import annotations

import csv
import gzip
import json
import os
from pathlib import Path

from datasets import Dataset, load_dataset

DATA_DIR_ENV = "GREENNLP_DATA_DIR"

TREC_CLASSES = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]


def _read_sst2(folder: Path, split: str) -> dict[str, list]:
    file = {"train": "train.tsv", "dev": "dev.tsv", "validation": "dev.tsv", "test": "test_labeled_unofficial.tsv"}
    with open(folder / file[split], encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return {"text": [r[0].strip() for r in rows], "label": [int(r[1]) for r in rows]}


def _read_imdb(folder: Path, split: str) -> dict[str, list]:
    texts, labels = [], []
    with gzip.open(folder / f"{split}.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            texts.append(record["text"])
            labels.append(int(record["label"]))
    return {"text": texts, "label": labels}


def _read_polarity(folder: Path, negative: str, positive: str, encoding: str) -> dict[str, list]:
    texts, labels = [], []
    for label, name in ((0, negative), (1, positive)):
        for line in (folder / name).read_text(encoding=encoding).split("\n"):
            if line.strip():
                texts.append(line.strip())
                labels.append(label)
    return {"text": texts, "label": labels}


def _read_trec(folder: Path, split: str) -> dict[str, list]:
    file = {"train": "train_5500.label", "test": "TREC_10.label"}[split]
    texts, labels = [], []
    for line in (folder / file).read_text(encoding="latin-1").split("\n"):
        if line.strip():
            tag, question = line.split(" ", 1)
            texts.append(question.strip())
            labels.append(TREC_CLASSES.index(tag.split(":")[0]))
    return {"text": texts, "label": labels}


def _read_wikitext(folder: Path, split: str) -> dict[str, list]:
    name = {"train": "train.txt.gz", "valid": "valid.txt", "validation": "valid.txt", "test": "test.txt"}[split]
    path = folder / name
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        lines = [line.strip() for line in handle]
    return {"text": [line for line in lines if line]}


# name -> (folder, splits, local reader, hub id, hub config, hub split names, hub text column)
_BENCHMARKS: dict[str, tuple] = {
    "sst2": ("sst2", ("train", "dev", "test"), _read_sst2, "stanfordnlp/sst2", None,
             {"dev": "validation"}, "sentence"),
    "imdb": ("imdb", ("train", "test"), _read_imdb, "stanfordnlp/imdb", None, {}, "text"),
    "cr": ("cr", ("all",), lambda f, s: _read_polarity(f, "custrev.neg", "custrev.pos", "utf-8"),
           "SetFit/CR", None, {"all": "train+test"}, "text"),
    "mr": ("mr", ("all",), lambda f, s: _read_polarity(f, "rt-polarity.neg", "rt-polarity.pos", "latin-1"),
           "cornell-movie-review-data/rotten_tomatoes", None, {"all": "train+validation+test"}, "text"),
    "trec": ("trec", ("train", "test"), _read_trec, "CogComp/trec", None, {}, "text"),
    "wikitext2": ("wikitext2", ("train", "valid", "test"), _read_wikitext, "Salesforce/wikitext",
                  "wikitext-2-v1", {"valid": "validation"}, "text"),
}

BENCHMARKS = tuple(_BENCHMARKS)


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The local data folder in force: ``explicit``, else ``$GREENNLP_DATA_DIR``, else ``None`` (use the hub)."""
    value = explicit or os.environ.get(DATA_DIR_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"Data folder {str(path)!r} does not exist. Pass an existing folder (--data PATH) or set "
            f"{DATA_DIR_ENV} to the folder holding sst2/, imdb/, cr/, ...; unset it to use the Hugging Face hub."
        )
    return path


def load_benchmark(
    name: str, split: str = "train", data_dir_path: str | os.PathLike | None = None, limit: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Load one split of a benchmark set as a ``Dataset`` with ``text`` (and ``label``) columns.

    ``limit`` keeps a seeded random subset of that many rows (the full split when ``None``), so that
    experiments on 2 CPU cores can say exactly what they subsampled.

    Parameters
    ----------
    name : str
        One of :data:`BENCHMARKS`: ``"sst2"``, ``"imdb"``, ``"cr"``, ``"mr"``, ``"trec"`` or ``"wikitext2"``
        (language modelling: a ``text`` column only).
    split : str
        sst2: ``"train"``, ``"dev"`` (or ``"validation"``), ``"test"``; imdb and trec: ``"train"``, ``"test"``;
        cr and mr: ``"all"`` (they have no standard split); wikitext2: ``"train"``, ``"valid"``, ``"test"``.
        Default ``"train"``.
    data_dir_path : str or os.PathLike, optional
        An existing folder holding ``<name>/`` with the original files; default ``$GREENNLP_DATA_DIR``. The
        set is loaded from the Hugging Face hub when neither is set or the folder has no ``<name>/``.
    limit : int, optional
        Keep this many rows, a random subset (the full split when ``None`` or at least its size).
    seed : int
        Seeds the shuffle that draws the ``limit`` rows (default 0).
    """
    if name not in _BENCHMARKS:
        raise ValueError(f"Unknown benchmark {name!r}; choose one of {BENCHMARKS}.")
    folder_name, splits, reader, hub_id, hub_config, hub_splits, hub_text = _BENCHMARKS[name]
    if split not in splits and not (name == "sst2" and split == "validation"):
        raise ValueError(f"Benchmark {name!r} has splits {splits}, not {split!r}.")
    root = data_dir(data_dir_path)
    if root is not None and (root / folder_name).is_dir():
        dataset = Dataset.from_dict(reader(root / folder_name, split))
    else:
        dataset = _load_from_hub(hub_id, hub_config, hub_splits.get(split, split), hub_text, name)
    if limit is not None and limit < len(dataset):
        dataset = dataset.shuffle(seed=seed).select(range(limit)).flatten_indices()
    return dataset


def _load_from_hub(hub_id: str, config: str | None, split: str, text_column: str, name: str) -> Dataset:
    try:
        dataset = load_dataset(hub_id, config, split=split)
    except Exception as error:  # the hub raises many types (ConnectionError, OfflineModeIsEnabled, ...)
        raise FileNotFoundError(
            f"Could not load {name!r} from the Hugging Face hub ({hub_id}): {error}. Offline, point "
            f"--data or {DATA_DIR_ENV} at a folder that holds {name}/."
        ) from error
    if text_column != "text":
        dataset = dataset.rename_column(text_column, "text")
    if name == "trec" and "coarse_label" in dataset.column_names:
        dataset = dataset.rename_column("coarse_label", "label")
    keep = [c for c in ("text", "label") if c in dataset.column_names]
    return dataset.select_columns(keep)


