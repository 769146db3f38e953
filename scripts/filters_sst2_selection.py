"""Which fraction of SST-2 to train on: prototype pruning (hard / easy), EL2N, AUM and the data map's ambiguous
region against random subsets, at several fractions, with the same model, epochs and seeds for every method.

For each seed ``s``:

1. ``--stage maps``: train a tiny BERT from scratch on the whole (subsampled) training set with seed ``s`` and
   ``DataMapCallback(store_probabilities=True)``: the 100% baseline, and confidence, variability, AUM and EL2N
   per example in ``OUTPUT/maps/seed<s>``.
2. ``--stage curve``: score each sentence by its cosine distance to the nearest of k centroids per class of its
   all-MiniLM-L6-v2 embedding (k-means seed ``s``); select every method's class-stratified subset with seed
   ``s`` from seed ``s``'s scores, and train the same model from scratch with seed ``s`` on it, through
   ``budgets.BudgetCurve`` (price tag per run, resumable table in ``OUTPUT/curve/seed<s>``). Accuracy on SST-2
   dev and two out-of-domain sets (IMDB test, CR), each subsampled with a fixed seed.
3. ``--stage summary`` (also after the other stages): mean (std) over the seeds found, in ``OUTPUT/summary.md``.

One process per seed keeps each command short, and can run beside another (each seed has its own folders):

    PYTHONPATH=. GREENNLP_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 \\
        nice -n 10 python scripts/filters_sst2_selection.py --train 5000 --seeds 0 --epochs 4 \\
        --learning-rate 1e-3 --clusters 10 --threads 1 --output runs/sst2_seeds
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from filters_sst2_common import (
    EVAL_NAMES,
    METHODS,
    load_map,
    load_texts,
    map_dir,
    score_sources,
    selector,
    summary_markdown,
)
from transformers.utils import logging as hf_logging

from greennlp._files import write_json
from greennlp.budgets import BudgetCurve
from greennlp.datamaps import DataMapCallback
from greennlp.encoders import accuracy, fine_tune, load_encoder, train_wordpiece_tokenizer
from greennlp.encoders.models import DEFAULT_PRETRAINED
from greennlp.filters.embedding_cache import cached_embed


def training_settings(args) -> dict:
    """The ``encoders.fine_tune`` settings shared by the map runs and the curve runs."""
    return dict(num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
                learning_rate=args.learning_rate, bf16=args.bf16)


def record_map(train, evals, tokenizer, args, seed: int, output: Path) -> dict:
    """Full-data run with ``seed`` that records the data map; returns its accuracies (also saved as JSON)."""
    model = load_encoder(args.size, num_labels=2, tokenizer=tokenizer, seed=seed)
    callback = DataMapCallback(map_dir(output, seed), store_probabilities=True, overwrite=True)
    start = time.perf_counter()
    fine_tune(model, tokenizer, train, seed=seed, max_length=args.max_length, callbacks=[callback],
              **training_settings(args))
    row = {"method": "full", "fraction": 1.0, "seed": seed, "train_seconds": time.perf_counter() - start}
    for name, dataset in evals.items():
        row[name] = accuracy(model, tokenizer, dataset, max_length=args.max_length)
    write_json(map_dir(output, seed) / "full_run.json", row)
    return row


def run_curve(train, evals, tokenizer, args, seed: int, output: Path) -> pd.DataFrame:
    """Every method x fraction with ``seed`` (its own map, k-means, selection and training seed)."""
    vectors = cached_embed(list(train["text"]), DEFAULT_PRETRAINED, output / "embeddings")
    sources = {seed: score_sources(load_map(output, seed, len(train)), vectors, train["label"], args.clusters, seed)}
    curve = BudgetCurve(lambda: load_encoder(args.size, num_labels=2, tokenizer=tokenizer), train, evals,
                        output / "curve" / f"seed{seed}", strategies={m: selector(m, sources) for m in METHODS},
                        fractions=args.fractions, seeds=[seed], tokenizer=tokenizer, max_length=args.max_length,
                        training_args=training_settings(args))
    return curve.run()


def collect(output: Path) -> pd.DataFrame:
    """Every finished run under ``output``: the full-data map runs and the curve runs, in one table."""
    rows = [json.loads(path.read_text()) for path in sorted((output / "maps").glob("seed*/full_run.json"))]
    frames = [pd.DataFrame(rows)] if rows else []
    for path in sorted((output / "curve").glob("seed*/budget_curve.parquet")):
        runs = pd.read_parquet(path).rename(columns={"strategy": "method", "wall_time_s": "train_seconds",
                                                     **{f"accuracy_{name}": name for name in EVAL_NAMES}})
        frames.append(runs)
    if not frames:
        raise SystemExit(f"No finished runs under {output}; run --stage maps and --stage curve first.")
    return pd.concat(frames, ignore_index=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=5000, help="SST-2 training sentences (seeded subset)")
    parser.add_argument("--ood", type=int, default=1000, help="IMDB / CR examples (seeded subsets)")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.33, 0.5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--stage", choices=["maps", "curve", "summary", "all"], default="all")
    parser.add_argument("--size", default="tiny", help="a miniature size load_encoder builds from a config (tiny, mini, small, medium), trained from scratch")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--clusters", type=int, default=10, help="k-means clusters per class")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (fp32 was faster for tiny here)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--output", default="runs/sst2_seeds")
    args = parser.parse_args(argv)
    hf_logging.set_verbosity_error()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)

    if args.stage != "summary":
        raw_train, raw_evals = load_texts(args.train, args.ood)
        tokenizer = train_wordpiece_tokenizer(list(raw_train["text"]), vocab_size=8000)
        for seed in args.seeds:
            if args.stage in ("maps", "all") and not (map_dir(output, seed) / "full_run.json").is_file():
                print(record_map(raw_train, raw_evals, tokenizer, args, seed, output), flush=True)
            if args.stage in ("curve", "all"):
                run_curve(raw_train, raw_evals, tokenizer, args, seed, output)
        write_json(output / f"about_seeds{'-'.join(map(str, args.seeds))}.json",
                   {"args": vars(args), "train_positive_share": float(np.mean(raw_train["label"]))})

    table = collect(output)
    table.to_csv(output / "runs.csv", index=False)
    expected = 1 + len(METHODS) * len(args.fractions)  # the full run and every method x fraction
    runs_per_seed = table.groupby("seed").size()
    partial = sorted(int(s) for s, n in runs_per_seed.items() if n < expected)
    if partial:  # every method must average over the same seeds
        print(f"Seeds {partial} are not finished for every method and fraction; left out of the summary.")
        table = table[~table["seed"].isin(partial)]
    summary = summary_markdown(table, list(EVAL_NAMES))
    curve_runs = table[table["method"] != "full"]
    if len(curve_runs):  # the price tags: what each selection cost to train on (means over the seeds)
        cost = curve_runs.groupby(["fraction", "method"], sort=False)[["tokens_seen", "train_flops"]].mean()
        lines = [f"| {f:g} | {m} | {row.tokens_seen:,.0f} | {row.train_flops / 1e9:,.0f} |"
                 for (f, m), row in cost.iterrows()]
        summary += ("\n\nPrice tags, means over the seeds:\n\n| fraction | method | tokens seen | train GFLOPs |\n"
                    "|---|---|---|---|\n" + "\n".join(lines))
    (output / "summary.md").write_text(summary + "\n")
    print(summary)


if __name__ == "__main__":
    main()
