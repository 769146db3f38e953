"""Benchmark: early exit against the full model on SST-2, with the threshold chosen on a validation split.

For each seed: fine-tune an EarlyExitClassifier (an exit after every layer, joint loss) on a seeded SST-2
training sample, fit one temperature per exit on a disjoint calibration sample, then run `exit_curve` on a third
disjoint sample of the training split (validation: where the threshold is chosen) and on the SST-2 dev set (test:
where it is reported). Threshold 1.0 runs every layer (the full model's row); ratios are against that row.
Each (seed, split, threshold) is one row of the results file with its per-example correctness, the training and
calibration FLOPs, and the command, machine and versions; a seed already in the file is skipped.

  python scripts/bench_inference.py --data ../shared/data --train-size 8000 --calibration-size 1000 \
      --validation-size 1000 --epochs 3 --seeds 0 1 2 --results docs/results/early_exit_sst2_minilm.jsonl
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import append_jsonl, correctness, provenance, read_jsonl  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from greennlp.budgets import BudgetCallback  # noqa: E402
from greennlp.encoders import (  # noqa: E402
    efficient_training_args,
    fine_tune,
    load_benchmark,
    load_tokenizer,
    tokenize_dataset,
    train_wordpiece_tokenizer,
)
from greennlp.encoders.models import MINIATURE_SIZES  # noqa: E402  private: the sizes load_encoder builds from a config
from greennlp.inference import EarlyExitClassifier, exit_curve  # noqa: E402


def sst2_splits(data: str | None, train_size: int, held_out_size: int, dev_size: int | None, seed: int):
    """A seeded SST-2 training subsample, a disjoint held-out sample of the training split (for calibration or
    head importance) and the dev set (``dev_size`` seeded rows, all 872 when ``None``)."""
    pool = load_benchmark("sst2", "train", data, limit=train_size + held_out_size, seed=seed)
    dev = load_benchmark("sst2", "validation", data, limit=dev_size, seed=seed)
    return pool.select(range(train_size)), pool.select(range(train_size, len(pool))), dev


def load_sst2_tokenizer(model: str, train):
    """The model's tokenizer, or for a miniature size (trained from scratch) a WordPiece one trained on ``train``."""
    if model in MINIATURE_SIZES:
        return train_wordpiece_tokenizer(train["text"], vocab_size=8000)
    return load_tokenizer(model)


def training_arguments(folder: str, *, epochs: float, learning_rate: float, batch_size: int, seed: int):
    """The benchmarks' one training setup: random order, 10% warm-up, seeded data order, no logging."""
    return efficient_training_args(folder, num_train_epochs=epochs, learning_rate=learning_rate,
                                   per_device_train_batch_size=batch_size, warmup_steps=0.1, seed=seed,
                                   data_seed=seed, train_sampling_strategy="random", logging_strategy="no",
                                   disable_tqdm=True)


def train_early_exit(model_name: str, tokenizer, train, calibration, *, epochs: float, learning_rate: float,
                     batch_size: int, seed: int, pooling: str = "mean",
                     exit_learning_rate: float | None = None, callbacks=()) -> EarlyExitClassifier:
    """An EarlyExitClassifier (an exit after every layer, ``pooling``) trained on tokenized ``train`` through
    encoders.fine_tune (random order, as training_arguments) and calibrated on tokenized ``calibration``; with
    ``exit_learning_rate`` the exit classifiers train at that rate (EarlyExitClassifier.parameter_groups), else
    everything at ``learning_rate``."""
    miniature = model_name in MINIATURE_SIZES
    model = EarlyExitClassifier.from_pretrained(model_name, num_labels=2, tokenizer=tokenizer if miniature else None,
                                                pooling=pooling, seed=seed)
    optimizers = (None, None)
    if exit_learning_rate is not None:
        optimizers = (torch.optim.AdamW(model.parameter_groups(learning_rate=learning_rate,
                                                               exit_learning_rate=exit_learning_rate)), None)
    fine_tune(model, tokenizer, train, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, seed=seed,
              optimizers=optimizers, callbacks=callbacks, train_sampling_strategy="random")
    return model.calibrate(calibration)


def run_seed(args, seed: int, learning_rate: float) -> list[dict]:
    """Train, calibrate and price one seed; its rows, one per (split, threshold), in the results file's format."""
    pool = load_benchmark("sst2", "train", args.data, limit=args.train_size + args.calibration_size
                          + args.validation_size, seed=seed)
    sizes = np.cumsum([args.train_size, args.calibration_size])
    splits = {"train": pool.select(range(sizes[0])), "calibration": pool.select(range(sizes[0], sizes[1])),
              "validation": pool.select(range(sizes[1], len(pool))),
              "test": load_benchmark("sst2", "validation", args.data)}
    tokenizer = load_sst2_tokenizer(args.model, splits["train"])
    tokenized = {name: tokenize_dataset(split, tokenizer) for name, split in splits.items()}
    budget = BudgetCallback(save=False)
    start = time.perf_counter()
    model = train_early_exit(args.model, tokenizer, tokenized["train"], tokenized["calibration"], epochs=args.epochs,
                             learning_rate=learning_rate, batch_size=args.batch_size, seed=seed,
                             pooling=args.pooling, exit_learning_rate=args.exit_learning_rate or None,
                             callbacks=[budget])
    seconds = time.perf_counter() - start
    layers = model.config.num_hidden_layers
    # calibration runs every exit over the calibration sample once: its price is that many full forward passes
    calibration_flops = float(sum(model.flops_per_example(len(ids), layers)
                                  for ids in tokenized["calibration"]["input_ids"]))
    labels = np.asarray(splits["test"]["label"])
    exit_accuracy = [float((logits.argmax(-1) == labels).mean()) for logits in model.exit_logits(tokenized["test"])]
    print(f"seed {seed}: trained and calibrated in {seconds:.0f} s; temperatures "
          f"{[round(float(t), 3) for t in model.temperatures]}; test accuracy of each exit alone "
          f"{[round(a, 3) for a in exit_accuracy]}", flush=True)
    torch.set_num_threads(args.threads)
    thresholds = [1.0, *args.thresholds]
    common = {"model": args.model, "seed": seed, "train_size": args.train_size, "epochs": args.epochs,
              "pooling": args.pooling, "train_flops": budget.price_tag_.train_flops, "train_seconds": round(seconds, 1),
              "calibration_size": args.calibration_size, "calibration_flops": calibration_flops,
              "exit_test_accuracy": exit_accuracy, "temperatures": [float(t) for t in model.temperatures],
              "threads": args.threads, "run": provenance()}
    rows = []
    for split in ("validation", "test"):
        # timing matters on the test split only; validation needs the predictions
        curve = exit_curve(model, tokenized[split], thresholds, batch_size=64,
                           repeats=args.repeats if split == "test" else 1)
        gold = np.asarray(splits[split]["label"])
        for threshold, row in zip(thresholds, curve.to_dict("records"), strict=True):
            predicted = model.predict(tokenized[split], threshold=threshold, batch_size=64)
            rows.append({**common, "split": split, "threshold": threshold, "examples": len(gold),
                         "accuracy": row["accuracy"], "mean_layers": row["mean_layers"],
                         "flops_per_example": row["flops_per_example"],
                         "ms_per_example": row["ms_per_example"] if split == "test" else None,
                         "correct": correctness(predicted["label"].to_numpy() == gold)})
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2",
                        help="a miniature size (built from a config, trained from scratch) or a BERT hub id / path")
    parser.add_argument("--data", help="folder holding sst2/ (default: $GREENNLP_DATA_DIR, else the hub)")
    parser.add_argument("--train-size", type=int, default=2000, help="seeded SST-2 training sample")
    parser.add_argument("--calibration-size", type=int, default=500, help="held-out training rows for calibrate()")
    parser.add_argument("--validation-size", type=int, default=500,
                        help="held-out training rows on which a threshold is chosen (the dev set is the test split)")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="default 5e-5 for a pretrained model, 1e-3 for a miniature size from scratch")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--pooling", choices=["mean", "cls"], default="mean", help="what each exit classifies")
    parser.add_argument("--exit-learning-rate", type=float, default=1e-3,
                        help="learning rate of the exit classifiers (0: the same as --learning-rate)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.95, 0.9, 0.8, 0.7, 0.6, 0.55])
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the timed inference")
    parser.add_argument("--repeats", type=int, default=3, help="timing rounds over all thresholds (fastest kept)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--results", required=True, help="JSONL results file to append to (a finished seed is skipped)")
    args = parser.parse_args(argv)
    hf_logging.set_verbosity_error()
    learning_rate = args.learning_rate or (1e-3 if args.model in MINIATURE_SIZES else 5e-5)
    done = {row["seed"] for row in read_jsonl(args.results)}
    for seed in args.seeds:
        if seed in done:
            print(f"seed {seed}: in {args.results} already, skipped")
            continue
        rows = run_seed(args, seed, learning_rate)
        for row in rows:
            append_jsonl(args.results, row)
        for row in rows:
            if row["split"] == "test":
                print(f"  test, threshold {row['threshold']:g}: accuracy {row['accuracy']:.3f}, "
                      f"{row['mean_layers']:.2f} layers, {row['ms_per_example']:.2f} ms/example", flush=True)
    if not args.seeds:
        sys.exit("no --seeds given")


if __name__ == "__main__":
    main()
