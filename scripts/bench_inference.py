"""Benchmark: early exit against the full model on SST-2 dev, in one run.

Fine-tunes an EarlyExitClassifier (an exit after every layer, joint loss) on a seeded SST-2 training subsample,
calibrates one temperature per exit on a disjoint held-out subsample of the training split, then prices
`exit_curve` on the dev set: threshold 1.0 runs every layer (the full model's row), lower thresholds let confident
examples leave early. Ratios are against that row; times are batched CPU inference at --threads threads.

  PYTHONPATH=. nice -n 10 .venv/bin/python scripts/bench_inference.py --data /work/shared/data --train-size 1000 --epochs 1
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import Trainer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from greennlp.encoders import (  # noqa: E402
    MINIATURE_SIZES,
    PaddingCollator,
    efficient_training_args,
    load_benchmark,
    load_tokenizer,
    tokenize_dataset,
    train_wordpiece_tokenizer,
)
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
                     exit_learning_rate: float | None = None) -> EarlyExitClassifier:
    """An EarlyExitClassifier (an exit after every layer, ``pooling``) trained on tokenized ``train`` with a plain
    Trainer and calibrated on tokenized ``calibration``; with ``exit_learning_rate`` the exit classifiers train at
    that rate (EarlyExitClassifier.parameter_groups), else everything at ``learning_rate``."""
    miniature = model_name in MINIATURE_SIZES
    model = EarlyExitClassifier.from_pretrained(model_name, num_labels=2, tokenizer=tokenizer if miniature else None,
                                                pooling=pooling, seed=seed)
    optimizers = (None, None)
    if exit_learning_rate is not None:
        optimizers = (torch.optim.AdamW(model.parameter_groups(learning_rate=learning_rate,
                                                               exit_learning_rate=exit_learning_rate)), None)
    with tempfile.TemporaryDirectory(prefix="greennlp-bench-inference-") as folder:
        arguments = training_arguments(folder, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size,
                                       seed=seed)
        Trainer(model=model, args=arguments, train_dataset=train, optimizers=optimizers,
                data_collator=PaddingCollator(tokenizer.pad_token_id)).train()
    return model.calibrate(calibration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2",
                        help="a miniature size (built from a config, trained from scratch) or a BERT hub id / path")
    parser.add_argument("--data", help="folder holding sst2/ (default: $GREENNLP_DATA_DIR, else the hub)")
    parser.add_argument("--train-size", type=int, default=2000, help="seeded SST-2 training subsample")
    parser.add_argument("--calibration-size", type=int, default=500, help="held-out training rows for calibrate()")
    parser.add_argument("--dev-size", type=int, default=None, help="dev rows (all 872 by default)")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="default 5e-5 for a pretrained model, 1e-3 for a miniature size from scratch")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--pooling", choices=["mean", "cls"], default="mean", help="what each exit classifies")
    parser.add_argument("--exit-learning-rate", type=float, default=1e-3,
                        help="learning rate of the exit classifiers (0: the same as --learning-rate)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the timed inference")
    parser.add_argument("--repeats", type=int, default=3, help="timing rounds over all thresholds (fastest kept)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    hf_logging.set_verbosity_error()

    train, calibration, dev = sst2_splits(args.data, args.train_size, args.calibration_size, args.dev_size, args.seed)
    tokenizer = load_sst2_tokenizer(args.model, train)
    tokenized = {name: tokenize_dataset(split, tokenizer) for name, split in
                 [("train", train), ("calibration", calibration), ("dev", dev)]}
    learning_rate = args.learning_rate or (1e-3 if args.model in MINIATURE_SIZES else 5e-5)
    start = time.perf_counter()
    model = train_early_exit(args.model, tokenizer, tokenized["train"], tokenized["calibration"], epochs=args.epochs,
                             learning_rate=learning_rate, batch_size=args.batch_size, seed=args.seed,
                             pooling=args.pooling, exit_learning_rate=args.exit_learning_rate or None)
    print(f"trained {args.model} ({model.config.num_hidden_layers} layers, {args.pooling}-pooled exits, exit "
          f"learning rate {args.exit_learning_rate or learning_rate:g}) on {len(train)} SST-2 examples, "
          f"{args.epochs} epochs, and calibrated in {time.perf_counter() - start:.0f} s")
    print("temperatures per exit:", [round(float(t), 3) for t in model.temperatures])
    labels = np.asarray(dev["label"])
    print("dev accuracy of each exit alone:",
          [round(float((logits.argmax(-1) == labels).mean()), 3) for logits in model.exit_logits(tokenized["dev"])])

    torch.set_num_threads(args.threads)
    curve = exit_curve(model, tokenized["dev"], [1.0, *args.thresholds], batch_size=64, repeats=args.repeats)
    full = curve.iloc[0]
    curve["accuracy_change"] = curve["accuracy"] - full["accuracy"]
    curve["flops_ratio"] = full["flops_per_example"] / curve["flops_per_example"]
    curve["speedup"] = full["ms_per_example"] / curve["ms_per_example"]
    curve.insert(0, "setup", ["full model (all layers)"] + [f"early exit > {t:g}" for t in args.thresholds])
    print(f"SST-2 dev ({len(dev)} examples), batch 64, {args.threads} threads, fastest of {args.repeats} rounds:")
    print(curve.drop(columns="threshold").to_string(index=False, float_format=lambda x: f"{x:.3g}"))


if __name__ == "__main__":
    main()
