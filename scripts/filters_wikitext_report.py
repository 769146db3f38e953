"""What each corpus-cleaning rule drops on WikiText-2: counts (first failing rule, and each rule on its own), a
few examples per rule, how many documents the ``alphabetic_words`` rule drops at lower thresholds, and optionally
what the ``language_id`` rule drops, printed as Markdown and, with ``--results``, appended as one JSONL row with its
provenance (docs/results/filters.md is generated from it).

    GREENNLP_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 python scripts/filters_wikitext_report.py --split train \\
        --unit paragraph --examples 2 --language-id --results docs/results/filters_wikitext.jsonl
"""
from __future__ import annotations

import argparse
import os
import random
import time

from bench_filters import wikitext_documents
from common import append_jsonl, provenance
from datasets import Dataset

from greennlp.filters import annotate_quality, default_rules, drop_summary

ALPHABETIC_THRESHOLDS = (0.8, 0.75, 0.7)
ALPHABETIC_MIN_TOKENS = 50  # the word_count rule's lower bound: below it a document is dropped for its length anyway


def shorten(text: str, limit: int) -> str:
    text = text.replace("\n", " ⏎ ").replace("|", "\\|")
    return text if len(text) <= limit else text[:limit] + " …"


def alphabetic_sweep(texts: list[str]) -> dict:
    """Documents with at least ``ALPHABETIC_MIN_TOKENS`` whitespace tokens, and how many of them
    the ``alphabetic_words`` rule drops at each threshold of ``ALPHABETIC_THRESHOLDS``."""
    long_enough = [text for text in texts if len(text.split()) >= ALPHABETIC_MIN_TOKENS]
    rules = {t: default_rules(only=["alphabetic_words"], alphabetic_words={"min_fraction": t})[0]
             for t in ALPHABETIC_THRESHOLDS}
    dropped = {f"{t:g}": sum(not rule(text) for text in long_enough) for t, rule in rules.items()}
    return {"min_tokens": ALPHABETIC_MIN_TOKENS, "documents": len(long_enough), "dropped": dropped}


def language_report(texts: list[str], examples: int, chars: int, seed: int) -> dict:
    """What the ``language_id`` rule (langid.py, English, probability >= 0.65) drops of the non-blank documents,
    with its CPU seconds (model load apart) and a few dropped examples."""
    start = time.process_time()
    (rule,) = default_rules(only=["language_id"], language="en", language_id={"min_probability": 0.65})
    rule("warm up: the model loads on first use")
    load_cpu = time.process_time() - start
    documents = [text for text in texts if text.split()]
    start = time.process_time()
    dropped = [text for text in documents if not rule(text)]
    cpu = time.process_time() - start
    shown = random.Random(seed).sample(dropped, min(examples, len(dropped)))
    return {"language": "en", "min_probability": 0.65, "max_characters": rule.max_characters,
            "documents": len(documents), "dropped": len(dropped), "cpu_seconds": round(cpu, 2),
            "load_cpu_seconds": round(load_cpu, 2), "examples": [shorten(text, chars) for text in shown]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="train", choices=["train", "valid", "test"])
    parser.add_argument("--unit", default="paragraph", choices=["article", "paragraph"])
    parser.add_argument("--examples", type=int, default=2, help="examples shown per rule")
    parser.add_argument("--chars", type=int, default=160, help="characters shown per example")
    parser.add_argument("--seed", type=int, default=0, help="which examples are drawn")
    parser.add_argument("--language-id", action="store_true", help="also run the language_id rule (needs greennlp[langid])")
    parser.add_argument("--results", help="append the report with its provenance to this JSONL file")
    args = parser.parse_args()

    texts = wikitext_documents(args.split, args.unit)
    dataset = Dataset.from_dict({"text": texts})
    rules = default_rules()
    first = annotate_quality(dataset, rules=rules)
    every = annotate_quality(dataset, rules=rules, all_reasons=True)
    first_table, every_table = drop_summary(first), drop_summary(every)
    names = [r.name for r in rules] + ["kept"]
    counts = {"first": {rule: int(first_table["documents"].get(rule, 0)) for rule in names},
              "alone": {rule: int(every_table["documents"].get(rule, 0)) for rule in names}}
    print(f"WikiText-2 {args.split}, one document per {args.unit}: {len(texts):,} documents\n")
    print("| rule | dropped (first failing rule) | share | fails on its own | share |\n|---|---|---|---|---|")
    for rule in names:
        a, b = counts["first"][rule], counts["alone"][rule]
        print(f"| {rule} | {a:,} | {a / len(texts):.1%} | {b:,} | {b / len(texts):.1%} |")
    print()
    rng = random.Random(args.seed)
    reasons = list(first["drop_reason"])
    examples = {}
    for rule in [r.name for r in rules]:
        rows = [i for i, reason in enumerate(reasons) if reason == rule]
        if not rows:
            continue
        examples[rule] = [shorten(texts[i], args.chars) for i in sorted(rng.sample(rows, min(args.examples, len(rows))))]
        print(f"- `{rule}` (first failing rule for {len(rows):,}):")
        for example in examples[rule]:
            print(f"  - `{example}`")
    print()
    row = {"split": args.split, "unit": args.unit, "documents": len(texts), "counts": counts, "examples": examples,
           "alphabetic_sweep": alphabetic_sweep(texts)}
    print("alphabetic_words on documents with at least 50 whitespace tokens:", row["alphabetic_sweep"])
    if args.language_id:
        row["language_id"] = language_report(texts, args.examples, args.chars, args.seed)
        print("language_id:", row["language_id"])
    if args.results:
        row["cpus"] = os.cpu_count()
        append_jsonl(args.results, {**row, "run": provenance()})


if __name__ == "__main__":
    main()
