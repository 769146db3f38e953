"""What each corpus-cleaning rule drops on WikiText-2: counts (first failing rule, and each rule on its own)
and a few examples per rule, printed as Markdown for docs/filters.md.

    PYTHONPATH=. GREENNLP_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 \\
        python scripts/filters_wikitext_report.py --split train --unit paragraph --examples 2
"""
from __future__ import annotations

import argparse
import random

from bench_filters import wikitext_documents
from datasets import Dataset

from greennlp.filters import annotate_quality, default_rules, drop_summary


def shorten(text: str, limit: int) -> str:
    text = text.replace("\n", " ⏎ ").replace("|", "\\|")
    return text if len(text) <= limit else text[:limit] + " …"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="train", choices=["train", "valid", "test"])
    parser.add_argument("--unit", default="paragraph", choices=["article", "paragraph"])
    parser.add_argument("--examples", type=int, default=2, help="examples shown per rule")
    parser.add_argument("--chars", type=int, default=160, help="characters shown per example")
    parser.add_argument("--seed", type=int, default=0, help="which examples are drawn")
    args = parser.parse_args()

    texts = wikitext_documents(args.split, args.unit)
    dataset = Dataset.from_dict({"text": texts})
    rules = default_rules()
    first = annotate_quality(dataset, rules=rules)
    every = annotate_quality(dataset, rules=rules, all_reasons=True)
    first_table, every_table = drop_summary(first), drop_summary(every)
    print(f"WikiText-2 {args.split}, one document per {args.unit}: {len(texts):,} documents\n")
    print("| rule | dropped (first failing rule) | share | fails on its own | share |\n|---|---|---|---|---|")
    for rule in [r.name for r in rules] + ["kept"]:
        a = first_table["documents"].get(rule, 0)
        b = every_table["documents"].get(rule, 0)
        print(f"| {rule} | {a:,} | {a / len(texts):.1%} | {b:,} | {b / len(texts):.1%} |")
    print()
    rng = random.Random(args.seed)
    reasons = list(first["drop_reason"])
    for rule in [r.name for r in rules]:
        rows = [i for i, reason in enumerate(reasons) if reason == rule]
        if not rows:
            continue
        print(f"- `{rule}` (first failing rule for {len(rows):,}):")
        for i in sorted(rng.sample(rows, min(args.examples, len(rows)))):
            print(f"  - `{shorten(texts[i], args.chars)}`")
    print()


if __name__ == "__main__":
    main()
