"""Which fraction of SST-2 to train on: prototype pruning (hard / easy), EL2N, AUM and the data map's ambiguous
region against random subsets, at several fractions, with the same model, epochs and seeds.

1. Train once on the whole (subsampled) training set with ``DataMapCallback(store_probabilities=True)``:
   this run is the 100% baseline and gives confidence, variability, AUM and EL2N per example.
2. Embed the training set with all-MiniLM-L6-v2 (``PrototypePruner``) and score each sentence by its cosine
   distance to the nearest of k centroids (per class).
3. For every method and fraction, select class-stratified (``select_stratified``), train the same model from
   scratch on the selected rows and report accuracy on SST-2 dev and two out-of-domain sets (IMDB test, CR),
   each subsampled with a fixed seed.

    PYTHONPATH=. GREENNLP_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 \\
        nice -n 10 python scripts/filters_sst2_selection.py --train 5000 --seeds 0 1 --epochs 4 \\
        --learning-rate 1e-3 --clusters 10 --threads 1 --output runs/sst2_selection
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import DataCollatorWithPadding, Trainer

from datamaps import DataMap, DataMapCallback
from encoders import (
    DEFAULT_PRETRAINED,
    efficient_training_args,
    load_benchmark,
    load_encoder,
    train_wordpiece_tokenizer,
)
from filters import PrototypePruner, select_stratified

# method -> (score, which end to keep). Every method selects class-stratified (same count per class as random),
# because one-ended score selection can pick one class almost only (EL2N did early in a pilot run).
METHODS = {
    "random": (None, "random"),
    "ambiguous": ("variability", "highest"),  # the data map's ambiguous region (Swayamdipta et al. 2020)
    "el2n (highest)": ("el2n", "highest"),  # Paul et al. 2021 keep the highest EL2N
    "aum (lowest)": ("aum", "lowest"),  # lowest margin = hardest / most likely mislabeled (Pleiss et al. 2020)
    "prototype hard": ("prototype", "highest"),  # Sorscher et al. 2022: far from the prototype
    "prototype easy": ("prototype", "lowest"),
}


def tokenize(dataset, tokenizer, max_length):
    return dataset.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_length), batched=True,
                       remove_columns=["text"])


def train_and_evaluate(train, evals, tokenizer, args, seed, callbacks=()):
    model = load_encoder(args.size, num_labels=2, tokenizer=tokenizer, seed=seed)
    with tempfile.TemporaryDirectory() as scratch:
        training_args = efficient_training_args(
            scratch, num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=128, learning_rate=args.learning_rate, seed=seed, data_seed=seed,
            logging_strategy="no", disable_tqdm=True, bf16=args.bf16,
        )
        trainer = Trainer(model=model, args=training_args, train_dataset=train, processing_class=tokenizer,
                          data_collator=DataCollatorWithPadding(tokenizer), callbacks=list(callbacks))
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        scores = {}
        for name, dataset in evals.items():
            prediction = trainer.predict(dataset)
            scores[name] = float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())
    return scores, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=6000, help="SST-2 training sentences (seeded subset)")
    parser.add_argument("--ood", type=int, default=1000, help="IMDB / CR examples (seeded subsets)")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.33, 0.5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--size", default="tiny", help="encoders.MINIATURE_SIZES key, trained from scratch")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--clusters", type=int, default=10, help="k-means clusters per class")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (fp32 was faster for tiny here)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--output", default="runs/sst2_selection")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)

    raw_train = load_benchmark("sst2", "train", limit=args.train, seed=0)
    tokenizer = train_wordpiece_tokenizer(list(raw_train["text"]), vocab_size=8000)
    train = tokenize(raw_train, tokenizer, args.max_length)
    evals = {
        "sst2_dev": tokenize(load_benchmark("sst2", "dev"), tokenizer, args.max_length),
        "imdb": tokenize(load_benchmark("imdb", "test", limit=args.ood, seed=0), tokenizer, args.max_length),
        "cr": tokenize(load_benchmark("cr", "all", limit=args.ood, seed=0), tokenizer, args.max_length),
    }
    rows = []

    # 1. full data (seed 0 records the data map)
    for seed in args.seeds:
        callbacks = [DataMapCallback(output / "map", store_probabilities=True)] if seed == args.seeds[0] else []
        scores, seconds = train_and_evaluate(train, evals, tokenizer, args, seed, callbacks)
        rows.append({"method": "full", "fraction": 1.0, "seed": seed, "train_seconds": seconds, **scores})
        print(rows[-1], flush=True)
    data_map = DataMap.load(output / "map")

    # 2. prototype scores from a pretrained sentence encoder (cached embeddings)
    start = time.perf_counter()
    pruner = PrototypePruner(DEFAULT_PRETRAINED, n_clusters=args.clusters, per_class=True,
                             cache_dir=output / "embeddings").fit(raw_train)
    prototype_seconds = time.perf_counter() - start
    sources = {name: data_map.scores(name) for name in ("variability", "el2n", "aum")}
    sources["prototype"] = pruner.scores_

    # 3. every method x fraction x seed; the selection seed is the training seed
    for fraction in args.fractions:
        for seed in args.seeds:
            for method, (source, keep) in METHODS.items():
                ranking = None if source is None else sources[source]
                subset = select_stratified(train, ranking, fraction, keep=keep, seed=seed)
                scores, seconds = train_and_evaluate(subset, evals, tokenizer, args, seed)
                rows.append({"method": method, "fraction": fraction, "seed": seed, "train_seconds": seconds,
                             "examples": len(subset), "positive_share": float(np.mean(subset["label"])), **scores})
                print(rows[-1], flush=True)

    table = pd.DataFrame(rows)
    table.to_csv(output / "runs.csv", index=False)
    summary = table.groupby(["fraction", "method"], sort=False)[list(evals)].agg(["mean", "std"]).round(3)
    print(summary.to_string())
    about = {"args": vars(args), "prototype_seconds": round(prototype_seconds, 1),
             "train_positive_share": float(np.mean(raw_train["label"]))}
    (output / "about.json").write_text(json.dumps(about, indent=1))
    print(json.dumps(about))


if __name__ == "__main__":
    main()
