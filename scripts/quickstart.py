"""Quickstart: train on SST-2 with a DataMapCallback, draw the data map, retrain on the most ambiguous third
and on a random third, and compare dev accuracy and train time.

    python scripts/quickstart.py                      # small pretrained encoder (all-MiniLM-L6-v2)
    python scripts/quickstart.py --model mini         # miniature BERT trained from scratch (see the note it prints)
    python scripts/quickstart.py --model bert-base-uncased --train-size 67349 --epochs 3

Data: --data PATH, else $GREENNLP_DATA_DIR, else the Hugging Face hub (stanfordnlp/sst2).
By default SST-2 train is subsampled to 2,000 sentences (seeded) so that the whole job takes a few minutes on
2 CPU cores; the dev set is always the full 872 sentences. The subsets train for twice as many epochs as the
full run (fewer steps in all) so that 660 sentences get enough optimizer steps.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from greennlp.datamaps import DataMap, DataMapCallback
from greennlp.encoders import (
    MINIATURE_SIZES,
    accuracy,
    fine_tune,
    load_benchmark,
    load_encoder,
    load_tokenizer,
    train_wordpiece_tokenizer,
)
from greennlp.encoders.models import DEFAULT_PRETRAINED
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


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    output = Path(args.output_dir)
    scratch = args.model in MINIATURE_SIZES
    learning_rate = args.learning_rate or (5e-4 if scratch else 1e-4)
    subset_epochs = args.subset_epochs or 2 * args.epochs

    print(f"[1/4] Loading SST-2 ({args.train_size:,} training sentences, seed {args.seed}) ...", flush=True)
    train = load_benchmark("sst2", "train", args.data, limit=args.train_size, seed=args.seed)
    dev = load_benchmark("sst2", "dev", args.data)
    tokenizer = build_tokenizer(args.model, train["text"])

    def run(name: str, subset, epochs: float, callbacks=()) -> dict:
        # A fresh model with the same initial weights for every subset.
        model = load_encoder(args.model, num_labels=2, tokenizer=tokenizer if scratch else None, seed=args.seed)
        started = time.perf_counter()
        trainer = fine_tune(model, tokenizer, subset, str(output / "runs" / name.split()[1].strip("()")),
                            epochs=epochs, learning_rate=learning_rate, batch_size=args.batch_size,
                            seed=args.seed, callbacks=callbacks, disable_tqdm=False)
        seconds = time.perf_counter() - started
        return {"subset": name, "size": len(subset), "epochs": epochs, "dev_accuracy": accuracy(trainer.model, tokenizer, dev),
                "train_seconds": round(seconds, 1)}

    print(f"[2/4] Training {args.model} on all {len(train):,} sentences with DataMapCallback ...", flush=True)
    results = [run("100% (full)", train, args.epochs, [DataMapCallback(output / "map", overwrite=True)])]

    print("[3/4] Drawing the data map ...", flush=True)
    data_map = DataMap.load(output / "map")
    data_map.plot(output / "map" / "datamap.png", title=f"SST-2 data map ({args.model}, {len(train):,} sentences)")
    print(f"      {data_map}\n      figure: {output / 'map' / 'datamap.png'}")
    for region in ("easy-to-learn", "ambiguous", "hard-to-learn"):
        members = data_map.select(region)  # the whole region, most typical first
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

    print("\n| subset | size | epochs | dev accuracy | train time (s) |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['subset']} | {r['size']:,} | {r['epochs']:g} | {r['dev_accuracy']:.3f} | {r['train_seconds']:.1f} |")
    (output / "results.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    if scratch:
        print("\n" + WEAK_MODEL_NOTE)
    return results


if __name__ == "__main__":
    sys.exit(main() and 0)
