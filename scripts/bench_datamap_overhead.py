"""Overhead of DataMapCallback: Trainer.train() wall time with the callback vs without, same seed,
runs alternated (baseline, train mode, eval mode, baseline, ...) and the median of per-round ratios reported.

    python scripts/bench_datamap_overhead.py --model tiny --train-size 4000 --rounds 5

Goal: <= 1.03 in the default (training-pass) mode.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile

from datamaps import DataMapCallback
from encoders import MINIATURE_SIZES, fine_tune, load_benchmark, load_encoder, load_tokenizer, train_wordpiece_tokenizer


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--data")
    parser.add_argument("--train-size", type=int, default=4000)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    train = load_benchmark("sst2", "train", args.data, limit=args.train_size, seed=0)
    scratch = args.model in MINIATURE_SIZES
    tokenizer = train_wordpiece_tokenizer(train["text"], vocab_size=8000) if scratch else load_tokenizer(args.model)

    def train_seconds(mode: str | None) -> float:
        model = load_encoder(args.model, num_labels=2, tokenizer=tokenizer if scratch else None, seed=0)
        with tempfile.TemporaryDirectory() as folder:
            callbacks = [DataMapCallback(f"{folder}/map", mode=mode)] if mode else []
            trainer = fine_tune(model, tokenizer, train, f"{folder}/run", epochs=args.epochs, seed=0,
                                batch_size=args.batch_size, learning_rate=5e-4 if scratch else 5e-5,
                                callbacks=callbacks)
            return next(h["train_runtime"] for h in reversed(trainer.state.log_history) if "train_runtime" in h)

    times: dict[str, list[float]] = {"none": [], "train": [], "eval": []}
    for round_number in range(args.rounds):
        for mode in ("none", "train", "eval"):
            times[mode].append(train_seconds(None if mode == "none" else mode))
        print(f"round {round_number + 1}: " + ", ".join(f"{m} {t[-1]:.2f}s" for m, t in times.items()), flush=True)
    ratios = {mode: statistics.median(t / b for t, b in zip(times[mode], times["none"])) for mode in ("train", "eval")}
    print(f"\nmodel {args.model}, {len(train):,} examples x {args.epochs} epochs, {args.rounds} alternated rounds")
    print(f"median Trainer.train() time: none {statistics.median(times['none']):.2f}s, "
          f"train mode {statistics.median(times['train']):.2f}s, eval mode {statistics.median(times['eval']):.2f}s")
    print(f"median ratio with/without callback: train mode {ratios['train']:.3f}, eval mode {ratios['eval']:.3f}")
    return ratios


if __name__ == "__main__":
    main()
