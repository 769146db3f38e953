"""Throughput of the corpus-cleaning chain (filters.default_rules) on WikiText-2: documents/s and MB/s.

Variants, alternated round by round because the machine is shared and noisy:
  - ``loop``: the rules applied in a plain Python loop over the strings (no datasets overhead);
  - ``annotate``: ``annotate_quality`` (batched ``Dataset.map``, first failing rule only);
  - ``annotate_all``: ``annotate_quality(all_reasons=True)`` (every rule on every document);
  - ``annotate_np2``: ``annotate_quality(num_proc=2)`` (two worker processes).
Also the time of each rule alone over the whole corpus (to order a custom chain cheapest first).

    GREENNLP_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 python scripts/bench_filters.py --split train \\
        --unit article --rounds 3 --results docs/results/filters_throughput.jsonl

``--results`` appends the run as one JSONL row with its provenance and the machine's load average before and
after (docs/results/filters.md is generated from it).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time

from common import append_jsonl, provenance
from datasets import Dataset, disable_caching

from greennlp.encoders import load_benchmark
from greennlp.filters import annotate_quality, default_rules
from greennlp.filters.cleaning import drop_reasons

TITLE = re.compile(r"^= [^=].* =$")  # WikiText article titles look like "= Title =", sections "= = Section = ="


def wikitext_documents(split: str, unit: str) -> list[str]:
    """WikiText-2 as documents: one per non-empty line (``paragraph``) or one per article (``article``)."""
    lines = list(load_benchmark("wikitext2", split)["text"])
    if unit == "paragraph":
        return lines
    articles: list[list[str]] = []
    for line in lines:
        if TITLE.match(line) or not articles:
            articles.append([])
        articles[-1].append(line)
    return ["\n".join(article) for article in articles]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="train", choices=["train", "valid", "test"])
    parser.add_argument("--unit", default="article", choices=["article", "paragraph"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", help="also write the results as JSON to this path")
    parser.add_argument("--results", help="append the result with its provenance to this JSONL file")
    args = parser.parse_args()
    disable_caching()  # every round must do the work
    load_before = os.getloadavg()[0]

    texts = wikitext_documents(args.split, args.unit)
    dataset = Dataset.from_dict({"text": texts})
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    rules = default_rules()
    variants = {
        "loop": lambda: [drop_reasons(t, rules) for t in texts],
        "annotate": lambda: annotate_quality(dataset, rules=rules),
        "annotate_all": lambda: annotate_quality(dataset, rules=rules, all_reasons=True),
        "annotate_np2": lambda: annotate_quality(dataset, rules=rules, num_proc=2),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    rule_times: dict[str, list[float]] = {rule.name: [] for rule in rules}
    for _ in range(args.rounds):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
        for rule in rules:
            start = time.perf_counter()
            for text in texts:
                rule(text)
            rule_times[rule.name].append(time.perf_counter() - start)

    best = {name: min(values) for name, values in times.items()}  # least disturbed round of each
    result = {
        "split": args.split, "unit": args.unit, "documents": len(texts), "megabytes": round(megabytes, 2),
        "rounds": args.rounds,
        "documents_per_s": {name: round(len(texts) / t) for name, t in best.items()},
        "megabytes_per_s": {name: round(megabytes / t, 2) for name, t in best.items()},
        "seconds_per_round": {name: [round(t, 2) for t in v] for name, v in times.items()},
        "ratio_annotate_over_loop_time": round(best["annotate"] / best["loop"], 3),
        "ratio_np2_speedup": round(best["annotate"] / best["annotate_np2"], 3),
        "rule_seconds_alone": {name: round(min(v), 3) for name, v in rule_times.items()},
        "median_note": {name: round(statistics.median(v), 2) for name, v in times.items()},
        "cpus": os.cpu_count(),
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }
    print(f"WikiText-2 {args.split}, one document per {args.unit}: {len(texts)} documents, {megabytes:.2f} MB, "
          f"best of {args.rounds} alternating rounds")
    print("| variant | documents/s | MB/s |\n|---|---|---|")
    for name in variants:
        print(f"| {name} | {result['documents_per_s'][name]:,} | {result['megabytes_per_s'][name]} |")
    print(f"annotate_quality / plain loop (time): {result['ratio_annotate_over_loop_time']}; "
          f"num_proc=2 speed-up: {result['ratio_np2_speedup']}")
    print("seconds per rule alone:", json.dumps(result["rule_seconds_alone"]))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=1)
    if args.results:
        append_jsonl(args.results, {**result, "run": provenance()})


if __name__ == "__main__":
    main()
