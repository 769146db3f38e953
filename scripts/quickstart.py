"""Quickstart: train on SST-2 with a DataMapCallback, draw the data map, retrain on the most ambiguous third
and on a random third, and compare dev accuracy and train time.

    python scripts/quickstart.py                      # small pretrained encoder (all-MiniLM-L6-v2)
    python scripts/quickstart.py --model mini         # miniature BERT trained from scratch (see the note it prints)
    python scripts/quickstart.py --model bert-base-uncased --train-size 67349 --epochs 3

Data: --data PATH, else $GREENNLP_DATA_DIR, else the Hugging Face hub (stanfordnlp/sst2).
By default SST-2 train is subsampled to 2,000 sentences (seeded) so that the whole job takes a few minutes on
2 CPU cores; the dev set is always the full 872 sentences. The subsets train for twice as many epochs as the
full run (fewer steps in all) so that 660 sentences get enough optimizer steps.

Every run is priced (BudgetCallback: time and FLOPs). A map-chosen subset costs its map too: the 100% run is the
map's run, so the ambiguous third's total price is its own run plus the full run, more than training once on all
the data. The last line says after how many runs on the subset (reusing one map) it would pay back. Output is
quiet (one progress bar per run, the results at the end); --verbose shows the libraries' logs and bars.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from greennlp.budgets import BudgetCallback

# private on purpose: the demo is quiet exactly as `greennlp map` is (one progress bar per run, no library noise)
from greennlp.cli import _quiet as quiet
from greennlp.cli import _step_bar as step_bar
from greennlp.datamaps import DataMap, DataMapCallback
from greennlp.encoders import (
    accuracy,
    fine_tune,
    load_benchmark,
    load_encoder,
    load_tokenizer,
    train_wordpiece_tokenizer,
)
from greennlp.encoders.models import (
    DEFAULT_PRETRAINED,
    MINIATURE_SIZES,  # private: the miniature sizes load_encoder builds from a config
)
from greennlp.filters import select_by_region, select_random

WEAK_MODEL_NOTE = (
    "Note: a miniature BERT trained from scratch is a weak model. Its data map mostly tells which sentences carry "
    "easy lexical cues; its 'ambiguous' examples are often just hard for it, and training on them alone was worse "
    "than a random third in our measurements (docs/cartography.md). The ambiguous-third effect of Swayamdipta et al. "
    "(2020) needs a pretrained encoder: run without --model mini."
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="folder holding sst2/ (default: $GREENNLP_DATA_DIR, else the hub)")
    parser.add_argument("--model", default=DEFAULT_PRETRAINED,
                        help=f"hub id or local path of a pretrained encoder, or a miniature size {sorted(MINIATURE_SIZES)} "
                             f"trained from scratch (default: {DEFAULT_PRETRAINED})")
    parser.add_argument("--train-size", type=int, default=2000, help="SST-2 training sentences to use (seeded sample)")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--subset-epochs", type=float,
                        help="epochs for the 33%% subsets (default: twice --epochs, so small subsets get enough steps)")
    parser.add_argument("--fraction", type=float, default=0.33, help="share of the data to retrain on")
    parser.add_argument("--learning-rate", type=float, help="default 1e-4 (pretrained) or 5e-4 (from scratch)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="runs/quickstart")
    parser.add_argument("--verbose", action="store_true",
                        help="show the libraries' logs, load reports and Trainer progress bars")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error(f"--epochs {args.epochs:g}: a data map needs at least 2 epochs (each example observed twice) "
                     "to measure variability; pass --epochs 2 or more.")
    return args


def build_tokenizer(model_name: str, train_texts):
    """The pretrained model's tokenizer, or a WordPiece vocabulary trained on the training text."""
    if model_name in MINIATURE_SIZES:
        return train_wordpiece_tokenizer(train_texts, vocab_size=8000)
    return load_tokenizer(model_name)


def payback_runs(full: float, subset: float) -> int | None:
    """The fewest runs k on a map-chosen subset for which the map (one full run) plus k subset runs cost less
    than k runs on all the data: full + k * subset < k * full. ``None`` when a subset run costs as much as a
    full one (it never pays back)."""
    if subset >= full:
        return None
    return math.floor(full / (full - subset)) + 1


def payback_line(results: list[dict], fraction: float) -> str:
    full, ambiguous = results[0], results[1]
    name = f"the map-chosen {fraction:.0%}"
    by_time = payback_runs(full["train_seconds"], ambiguous["train_seconds"])
    by_flops = payback_runs(full["train_flops"], ambiguous["train_flops"]) if full["train_flops"] else None
    if by_time is None:
        return (f"Pay-back: none at this size. One run on {name} takes {ambiguous['train_seconds']:.1f} s, no less "
                f"than one on all the data ({full['train_seconds']:.1f} s), so reusing its map never pays for the map.")
    flops = f"; by FLOPs, {by_flops} runs" if by_flops else ""
    return (f"Pay-back: reused for {by_time} runs on {name}, its map pays for itself (the map plus {by_time} runs on "
            f"the subset take less time than {by_time} runs on all the data{flops}); with fewer runs the subset "
            "costs more than all the data.")


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    output = Path(args.output_dir)
    scratch = args.model in MINIATURE_SIZES
    learning_rate = args.learning_rate or (5e-4 if scratch else 1e-4)
    subset_epochs = args.subset_epochs or 2 * args.epochs
    silent = not args.verbose

    print(f"[1/4] Loading SST-2 ({args.train_size:,} training sentences, seed {args.seed}) ...", flush=True)
    with quiet(silent):
        train = load_benchmark("sst2", "train", args.data, limit=args.train_size, seed=args.seed)
        dev = load_benchmark("sst2", "dev", args.data)
        tokenizer = build_tokenizer(args.model, train["text"])

    def run(name: str, subset, epochs: float, callbacks=()) -> dict:
        budget = BudgetCallback()
        with quiet(silent):
            # A fresh model with the same initial weights for every subset.
            model = load_encoder(args.model, num_labels=2, tokenizer=tokenizer if scratch else None, seed=args.seed)
            started = time.perf_counter()
            trainer = fine_tune(model, tokenizer, subset, str(output / "runs" / name.split()[1].strip("()")),
                                epochs=epochs, learning_rate=learning_rate, batch_size=args.batch_size,
                                seed=args.seed, progress=args.verbose,
                                callbacks=[*callbacks, budget, step_bar(f"      {name}", disable=args.verbose)])
            seconds = time.perf_counter() - started
            dev_accuracy = accuracy(trainer.model, tokenizer, dev)
        price = budget.price_tag_
        return {"subset": name, "size": len(subset), "epochs": epochs, "dev_accuracy": dev_accuracy,
                "train_seconds": round(seconds, 1), "train_flops": price.train_flops if price else 0.0}

    print(f"[2/4] Training {args.model} on all {len(train):,} sentences with DataMapCallback ...", flush=True)
    results = [run("100% (full)", train, args.epochs, [DataMapCallback(output / "map", overwrite=True)])]

    print("[3/4] Drawing the data map ...", flush=True)
    data_map = DataMap.load(output / "map")
    data_map.plot(output / "map" / "datamap.png", title=f"SST-2 data map ({args.model}, {len(train):,} sentences)")
    print(f"      {data_map}\n      figure: {output / 'map' / 'datamap.png'}")
    for region in ("easy-to-learn", "ambiguous", "hard-to-learn"):
        members = select_by_region(train, data_map, region, return_ids=True)  # the whole region, most typical first
        if len(members) == 0:
            print(f"      {region:>13}: (no examples)")
            continue
        row = train[int(members[0])]
        print(f"      {region:>13}: label={row['label']} {row['text'][:90]!r} ({len(members):,} examples)")

    print(f"[4/4] Retraining on {args.fraction:.0%} most ambiguous and {args.fraction:.0%} random ...", flush=True)
    ambiguous = select_by_region(train, data_map, "ambiguous", fraction=args.fraction)
    random_subset = select_random(train, args.fraction, seed=args.seed)
    results.append(run(f"{args.fraction:.0%} (ambiguous)", ambiguous, subset_epochs))
    results.append(run(f"{args.fraction:.0%} (random)", random_subset, subset_epochs))
    # The price of a result: its own run, plus the map's run (the 100% run) for the subset the map chose.
    full = results[0]
    for r in results:
        with_map = r is results[1]
        r["map_included"] = with_map
        r["total_seconds"] = round(r["train_seconds"] + (full["train_seconds"] if with_map else 0.0), 1)
        r["total_flops"] = r["train_flops"] + (full["train_flops"] if with_map else 0.0)

    print("\n| subset | size | epochs | dev accuracy | train time (s) | train FLOPs | total price (s) | total FLOPs |\n"
          "|---|---|---|---|---|---|---|---|")
    for r in results:
        mark = " (with map)" if r["map_included"] else ""
        print(f"| {r['subset']} | {r['size']:,} | {r['epochs']:g} | {r['dev_accuracy']:.3f} | {r['train_seconds']:.1f} "
              f"| {r['train_flops']:.3g} | {r['total_seconds']:.1f}{mark} | {r['total_flops']:.3g} |")
    print("Total price: the run itself, plus the map's run (the 100% run) for the subset the map chose.")
    payback = payback_line(results, args.fraction)
    print(payback)
    (output / "results.json").write_text(json.dumps({"args": vars(args), "results": results, "payback": payback},
                                                    indent=2))
    if scratch:
        print("\n" + WEAK_MODEL_NOTE)
    return results


if __name__ == "__main__":
    sys.exit(main() and 0)
