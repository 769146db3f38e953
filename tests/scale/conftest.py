"""Documents for the datatrove steps: real text (WikiText-2 articles, IMDB reviews) when the shared data is there,
synthetic sentences otherwise, plus junk that the quality rules must drop; and JSONL folders of them."""
from __future__ import annotations

import gzip
import json
import os
import re
from itertools import islice
from pathlib import Path

import pytest

pytest.importorskip("datatrove")

REPO = Path(__file__).resolve().parents[2]
_ARTICLE_TITLE = re.compile(r"^ = [^=].* = $")

JUNK = [
    "",
    "too short to keep",
    "<html><body><div>" + " ".join(f"<p>item {i}</p>" for i in range(60)) + "</div></body></html>",
    "\n".join(f"- buy cheap watches number {i} today" for i in range(40)),
    "\n".join(f"Read the full story about topic {i} ..." for i in range(30)),
    "# # # $ $ % % & & " * 60,
    "\n".join(["click here to subscribe to our newsletter and win prizes"] * 30),
    " ".join(["spam"] * 300),
    "lorem ipsum " * 5 + "{{ template }} {% block content %} {% endblock %} " * 30,
]


def wikitext_articles(data: Path, n: int) -> list[str]:
    """The first ``n`` articles of WikiText-2's validation split (split at top-level "= Title =" lines)."""
    articles, current = [], []
    for line in (data / "wikitext2" / "valid.txt").read_text(encoding="utf-8").split("\n"):
        if _ARTICLE_TITLE.match(line) and current:
            articles.append("\n".join(current).strip())
            current = []
        current.append(line)
    articles.append("\n".join(current).strip())
    return [article for article in articles if article][:n]


def imdb_reviews(data: Path, n: int) -> list[str]:
    with gzip.open(data / "imdb" / "test.jsonl.gz", "rt", encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in islice(lines, n)]


def real_data_dir() -> Path | None:
    path = Path(os.environ.get("GREENNLP_DATA_DIR", REPO.parent / "shared" / "data"))
    return path if (path / "wikitext2" / "valid.txt").is_file() and (path / "imdb").is_dir() else None


@pytest.fixture(scope="session")
def documents() -> list[str]:
    """A few hundred documents: real clean text when available, with junk mixed in."""
    data = real_data_dir()
    if data is not None:
        clean = wikitext_articles(data, 40) + imdb_reviews(data, 260)
    else:
        from synthetic import synthetic_sentiment

        clean = [" ".join(synthetic_sentiment(600, seed=seed)["text"][i:i + 8]) for seed in range(1)
                 for i in range(0, 600, 8)]
    mixed = list(clean)
    for i, junk in enumerate(JUNK):  # spread the junk across the files the tests write
        mixed.insert((i * 37) % len(mixed), junk)
    return mixed


def write_jsonl_folder(folder: Path, texts: list[str], n_files: int) -> list[str]:
    """Write ``texts`` round-robin into ``n_files`` JSONL files with ids ``doc-00000`` ...; returns the ids."""
    folder.mkdir(parents=True)
    ids = [f"doc-{i:05d}" for i in range(len(texts))]
    for file_index in range(n_files):
        rows = [{"id": ids[i], "text": texts[i]} for i in range(file_index, len(texts), n_files)]
        (folder / f"part-{file_index}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows),
                                                         encoding="utf-8")
    return ids


def read_jsonl_folder(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.rglob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            rows += [json.loads(line) for line in lines if line.strip()]
    return rows
