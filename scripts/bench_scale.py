"""Throughput of greennlp's datatrove steps, side by side in one run.

1. Cleaning, one process (per core): documents/s of ``greennlp.scale.QualityFilter`` (default chain) vs datatrove's
   ``GopherQualityFilter`` + ``GopherRepetitionFilter`` on the same real documents (IMDB reviews and WikiText-2
   articles), best of ``--rounds`` passes each, alternating; plus how often their keep/drop decisions agree.
2. Tagging: words/s of ``ContentWordPacker`` (tag + tokenize + pack + write Parquet) in a
   ``LocalPipelineExecutor`` with ``--tasks`` tasks run by 1 worker and by 2 workers (wall clock, process start
   included).

    HF_HUB_OFFLINE=1 python scripts/bench_scale.py --imdb 1000 --wikitext 200
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import tempfile
import time
from itertools import islice
from pathlib import Path

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.readers import JsonlReader

from greennlp.encoders import train_wordpiece_tokenizer
from greennlp.scale import ContentWordPacker, PackedBlockWriter, QualityFilter

DATA = Path(os.environ.get("GREENNLP_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
_ARTICLE_TITLE = re.compile(r"^ = [^=].* = $")


def load_documents(n_imdb: int, n_wikitext: int) -> list[str]:
    with gzip.open(DATA / "imdb" / "train.jsonl.gz", "rt", encoding="utf-8") as lines:
        reviews = [json.loads(line)["text"] for line in islice(lines, n_imdb)]
    articles, current = [], []
    with gzip.open(DATA / "wikitext2" / "train.txt.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if _ARTICLE_TITLE.match(line) and current:
                articles.append("\n".join(current).strip())
                current = []
                if len(articles) == n_wikitext:
                    break
            current.append(line)
    return reviews + articles


def run_filters(steps, documents: list[Document]) -> tuple[float, list[bool]]:
    """Seconds to pass ``documents`` through ``steps`` in this process, and which documents came out."""
    start = time.perf_counter()
    stream = iter(documents)
    for step in steps:
        stream = step.run(stream)
    kept = {doc.id for doc in stream}
    return time.perf_counter() - start, [doc.id in kept for doc in documents]


def bench_cleaning(texts: list[str], rounds: int) -> dict:
    documents = [Document(text=text, id=str(i)) for i, text in enumerate(texts)]
    candidates = {"greennlp QualityFilter": lambda: [QualityFilter()],
                  "datatrove Gopher quality + repetition": lambda: [GopherQualityFilter(), GopherRepetitionFilter()]}
    run_filters(candidates["datatrove Gopher quality + repetition"](), documents[:5])  # loads its word tokenizer
    best, decisions = {}, {}
    for _ in range(rounds):
        for name, make in candidates.items():
            seconds, decisions[name] = run_filters(make(), documents)
            best[name] = min(best.get(name, float("inf")), seconds)
    ours, theirs = decisions.values()
    rates = {name: round(len(documents) / seconds, 1) for name, seconds in best.items()}
    return {"documents": len(documents), "rounds": rounds, "documents_per_s": rates,
            "ratio_greennlp_over_datatrove": round(rates["greennlp QualityFilter"] /
                                                   rates["datatrove Gopher quality + repetition"], 2),
            "kept": {name: sum(kept) for name, kept in decisions.items()},
            "decisions_agree": round(sum(a == b for a, b in zip(ours, theirs, strict=True)) / len(documents), 4)}


def bench_tagging(texts: list[str], tasks: int, tagger: str, seq_len: int) -> dict:
    words = sum(len(text.split()) for text in texts)
    result = {"documents": len(texts), "words": words, "tasks": tasks, "tagger": tagger, "seconds": {},
              "words_per_s": {}}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        (scratch / "raw").mkdir()
        for task in range(tasks):
            rows = [{"id": f"{i}", "text": texts[i]} for i in range(task, len(texts), tasks)]
            (scratch / "raw" / f"part-{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        train_wordpiece_tokenizer(texts, vocab_size=8000, model_max_length=10**9).save_pretrained(scratch / "tok")
        for workers in (1, 2):
            pipeline = [JsonlReader(str(scratch / "raw")),
                        ContentWordPacker(str(scratch / "tok"), tagger=tagger, seq_len=seq_len),
                        PackedBlockWriter(str(scratch / f"packed-{workers}"))]
            executor = LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, start_method="fork",
                                             logging_dir=str(scratch / f"logs-{workers}"))
            start = time.perf_counter()
            executor.run()
            seconds = time.perf_counter() - start
            result["seconds"][f"{workers} worker(s)"] = round(seconds, 2)
            result["words_per_s"][f"{workers} worker(s)"] = round(words / seconds)
    rates = list(result["words_per_s"].values())
    result["speedup_2_over_1"] = round(rates[1] / rates[0], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imdb", type=int, default=1000, help="IMDB train reviews")
    parser.add_argument("--wikitext", type=int, default=200, help="WikiText-2 train articles")
    parser.add_argument("--rounds", type=int, default=2, help="passes per cleaning step (best one counts)")
    parser.add_argument("--tasks", type=int, default=2, help="datatrove tasks for the tagging run")
    parser.add_argument("--tagger", default="blank", help="'blank' (lexical rules) or a spaCy pipeline name")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--output", help="also write the result here (JSON)")
    args = parser.parse_args()
    texts = load_documents(args.imdb, args.wikitext)
    result = {"cleaning_one_process": bench_cleaning(texts, args.rounds),
              "tagging": bench_tagging(texts, args.tasks, args.tagger, args.seq_len),
              "cpus": os.cpu_count()}
    print(json.dumps(result, indent=2))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
