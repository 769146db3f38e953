"""Overhead of DataMapCallback: Trainer.train() time with the callback vs without, same seed, runs
alternated (baseline, train mode, eval mode, baseline, ...) and the median of per-round ratios reported, for
wall time and for this process's CPU time (steadier when other jobs share the machine).

    python scripts/bench_datamap_overhead.py --model tiny --train-size 4000 --rounds 5 \
        --results docs/results/datamap_overhead.jsonl

With --results, one JSON row (every round's times, the median ratios, command, machine, versions) is appended.

Goal: <= 1.03 in the default (training-pass) mode.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from common import append_jsonl, provenance
from transformers import TrainerCallback

from greennlp.datamaps import DataMapCallback
from greennlp.encoders import fine_tune, load_benchmark, load_encoder, load_tokenizer, train_wordpiece_tokenizer
from greennlp.encoders.models import MINIATURE_SIZES  # private: the miniature sizes load_encoder builds from a config


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--data")
    parser.add_argument("--train-size", type=int, default=4000)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--results", help="JSONL file to append this run's row to")
    args = parser.parse_args(argv)
    train = load_benchmark("sst2", "train", args.data, limit=args.train_size, seed=0)
    scratch = args.model in MINIATURE_SIZES
    tokenizer = train_wordpiece_tokenizer(train["text"], vocab_size=8000) if scratch else load_tokenizer(args.model)

    class Timer(TrainerCallback):
        """Wall and CPU time from on_train_begin to on_train_end: Trainer.train()'s loop, set-up excluded."""

        def on_train_begin(self, *args, **kwargs):
            self.wall, self.cpu = time.perf_counter(), time.process_time()

        def on_train_end(self, *args, **kwargs):
            self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def train_seconds(mode: str | None) -> tuple[float, float]:
        model = load_encoder(args.model, num_labels=2, tokenizer=tokenizer if scratch else None, seed=0)
        timer = Timer()
        with tempfile.TemporaryDirectory() as folder:
            # The timer runs first: on_train_begin of the data map (building its index) is counted.
            callbacks = [timer] + ([DataMapCallback(f"{folder}/map", mode=mode)] if mode else [])
            fine_tune(model, tokenizer, train, f"{folder}/run", epochs=args.epochs, seed=0,
                      batch_size=args.batch_size, learning_rate=5e-4 if scratch else 5e-5, callbacks=callbacks)
        return timer.wall, timer.cpu

    times: dict[str, list[tuple[float, float]]] = {"none": [], "train": [], "eval": []}
    for round_number in range(args.rounds):
        for mode in ("none", "train", "eval"):
            times[mode].append(train_seconds(None if mode == "none" else mode))
        print(f"round {round_number + 1}: " + ", ".join(f"{m} {t[-1][0]:.2f}s wall / {t[-1][1]:.2f}s cpu"
                                                      for m, t in times.items()), flush=True)
    ratios = {}
    for mode in ("train", "eval"):
        for kind, k in (("wall", 0), ("cpu", 1)):
            ratios[f"{mode}_{kind}"] = statistics.median(t[k] / b[k] for t, b in zip(times[mode], times["none"], strict=True))
    print(f"\nmodel {args.model}, {len(train):,} examples x {args.epochs} epochs, {args.rounds} alternated rounds")
    for kind, k in (("wall", 0), ("cpu", 1)):
        print(f"median {kind} time: none {statistics.median(t[k] for t in times['none']):.2f}s, "
              f"train mode {statistics.median(t[k] for t in times['train']):.2f}s, "
              f"eval mode {statistics.median(t[k] for t in times['eval']):.2f}s")
    print(f"median ratio with/without callback, wall: train mode {ratios['train_wall']:.3f}, "
          f"eval mode {ratios['eval_wall']:.3f}")
    print(f"median ratio with/without callback, CPU:  train mode {ratios['train_cpu']:.3f}, "
          f"eval mode {ratios['eval_cpu']:.3f}")
    if args.results:
        append_jsonl(args.results, {"model": args.model, "examples": len(train), "epochs": args.epochs,
                                    "rounds": args.rounds, "batch_size": args.batch_size, **ratios,
                                    "seconds": {mode: [list(t) for t in rows] for mode, rows in times.items()},
                                    "run": provenance()})
    return ratios


if __name__ == "__main__":
    main()
