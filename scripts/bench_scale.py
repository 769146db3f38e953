"""Throughput of greennlp's datatrove steps, side by side in one run.

1. Cleaning, one process (per core): documents/s of ``greennlp.scale.QualityFilter`` (default chain) vs datatrove's
   ``GopherQualityFilter`` + ``GopherRepetitionFilter`` on the same real documents (IMDB reviews and WikiText-2
   articles), best of ``--rounds`` passes each, alternating; plus how often their keep/drop decisions agree.
2. Tagging: words/s of ``ContentWordPacker`` (tag + tokenize + pack + write Parquet) in a
   ``LocalPipelineExecutor`` with ``--tasks`` tasks run by 1 worker and by 2 workers (wall clock, process start
   included), best of ``--rounds`` alternating runs each.

    HF_HUB_OFFLINE=1 python scripts/bench_scale.py --imdb 1000 --wikitext 200 --results docs/results/scale_bench.jsonl

``--results`` appends the run as one JSONL row with its provenance (command, machine, versions, date) and the
machine's load average before and after, which docs/results/scale.md is generated from.
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

from common import append_jsonl, provenance
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
    best, decisions, per_round = {}, {}, {name: [] for name in candidates}
    for _ in range(rounds):
        for name, make in candidates.items():
            seconds, decisions[name] = run_filters(make(), documents)
            best[name] = min(best.get(name, float("inf")), seconds)
            per_round[name].append(round(seconds, 3))
    ours, theirs = decisions.values()
    rates = {name: round(len(documents) / seconds, 1) for name, seconds in best.items()}
    return {"documents": len(documents), "rounds": rounds, "documents_per_s": rates, "seconds_per_round": per_round,
            "ratio_greennlp_over_datatrove": round(rates["greennlp QualityFilter"] /
                                                   rates["datatrove Gopher quality + repetition"], 2),
            "kept": {name: sum(kept) for name, kept in decisions.items()},
            "decisions_agree": round(sum(a == b for a, b in zip(ours, theirs, strict=True)) / len(documents), 4)}


def bench_tagging(texts: list[str], tasks: int, tagger: str, seq_len: int, rounds: int) -> dict:
    words = sum(len(text.split()) for text in texts)
    result = {"documents": len(texts), "words": words, "tasks": tasks, "tagger": tagger, "rounds": rounds,
              "seconds": {}, "seconds_per_round": {}, "words_per_s": {}}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        (scratch / "raw").mkdir()
        for task in range(tasks):
            rows = [{"id": f"{i}", "text": texts[i]} for i in range(task, len(texts), tasks)]
            (scratch / "raw" / f"part-{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        train_wordpiece_tokenizer(texts, vocab_size=8000, model_max_length=10**9).save_pretrained(scratch / "tok")
        # Alternating rounds, best of each: the first run pays one-time costs (imports, cold caches) that would
        # otherwise count against whichever setting ran first.
        for round_ in range(rounds):
            for workers in (1, 2):
                pipeline = [JsonlReader(str(scratch / "raw")),
                            ContentWordPacker(str(scratch / "tok"), tagger=tagger, seq_len=seq_len),
                            PackedBlockWriter(str(scratch / f"packed-{workers}-{round_}"))]
                executor = LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, start_method="fork",
                                                 logging_dir=str(scratch / f"logs-{workers}-{round_}"))
                start = time.perf_counter()
                executor.run()
                seconds = time.perf_counter() - start
                key = f"{workers} worker(s)"
                result["seconds_per_round"].setdefault(key, []).append(round(seconds, 2))
                result["seconds"][key] = min(result["seconds_per_round"][key])
                result["words_per_s"][key] = round(words / result["seconds"][key])
    rates = list(result["words_per_s"].values())
    result["speedup_2_over_1"] = round(rates[1] / rates[0], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imdb", type=int, default=1000, help="IMDB train reviews")
    parser.add_argument("--wikitext", type=int, default=200, help="WikiText-2 train articles")
    parser.add_argument("--rounds", type=int, default=2, help="passes per cleaning step and per tagging setting, alternating (best one counts)")
    parser.add_argument("--tasks", type=int, default=2, help="datatrove tasks for the tagging run")
    parser.add_argument("--tagger", default="blank", help="'blank' (lexical rules) or a spaCy pipeline name")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--output", help="also write the result here (JSON)")
    parser.add_argument("--results", help="append the result with its provenance to this JSONL file")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    texts = load_documents(args.imdb, args.wikitext)
    result = {"imdb": args.imdb, "wikitext": args.wikitext,
              "cleaning_one_process": bench_cleaning(texts, args.rounds),
              "tagging": bench_tagging(texts, args.tasks, args.tagger, args.seq_len, args.rounds),
              "cpus": os.cpu_count(),
              "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}}
    print(json.dumps(result, indent=2))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    if args.results:
        append_jsonl(args.results, {**result, "run": provenance()})


if __name__ == "__main__":
    main()
