"""Label errors on SST-2 with injected flips: the data map of one training run against cleanlab's confident
learning on 5-fold out-of-sample probabilities from the same recipe (5 trainings), and against a cross-fitted map
(`greennlp.budgets.cross_fitted_map`: 2 trainings on half the data each, every example scored in eval mode at each
epoch end by the model that held it out), ranked by mean out-of-sample p(gold) or by its last epoch's alone.
Precision and recall at the true noise rate, and each method's price tag (training FLOPs, wall time; cross-fitted
rows add `scoring_flops`, the forward passes over the held-out halves). The map is also scored from its first and
its last epoch alone. Every row keeps, for each flipped label in id order, whether the method found it (`found`,
0/1: the input of paired intervals between methods), and the command, machine and versions.

    python scripts/label_errors_sst2.py --model tiny --train-size 2000 --epochs 2 --seeds 0 --output-dir runs/le
    python scripts/label_errors_sst2.py --model tiny --train-size 2000 --epochs 2 --seeds 0 --output-dir runs/le \
        --methods cross-fitted --results runs/le/crossfit.jsonl

`--methods` runs a part of the comparison (data-map, cleanlab, cross-fitted); every part uses the same flips
(seeded by the seed). Resumable: each finished (seed, part)'s rows are appended to the results file (--results,
default <output-dir>/results.jsonl) and a rerun with the same settings skips them.

cleanlab is a benchmark dependency: pip install 'greennlp[bench]'.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import append_jsonl, population_std, provenance, read_jsonl

from greennlp.budgets import BudgetCallback, cross_fitted_map
from greennlp.datamaps import DataMap, DataMapCallback
from greennlp.encoders import (
    fine_tune,
    load_benchmark,
    load_encoder,
    load_tokenizer,
    train_wordpiece_tokenizer,
)
from greennlp.encoders.finetune import predict_proba  # the one batched inference, in dataset order

#: the sizes that load_encoder builds from a config (trained from scratch, with a WordPiece vocabulary of the data)
MINIATURE_SIZES = ("tiny", "mini", "small", "medium")
#: the parts of the comparison and the rows (methods) each writes per seed
PARTS = {
    "data-map": ("data map (aum)", "data map (confidence)", "data map, first epoch (aum)",
                 "data map, last epoch (aum)"),
    "cleanlab": ("cleanlab (its own flags)", "cleanlab (top k)"),
    "cross-fitted": ("cross-fitted map (confidence)", "cross-fitted map, last epoch (confidence)"),
}
METHODS = tuple(method for methods in PARTS.values() for method in methods)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="hub id / path of a pretrained encoder, or a miniature size")
    parser.add_argument("--data", default=None, help="folder holding sst2/ (default: $GREENNLP_DATA_DIR, else the hub)")
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--noise", type=float, default=0.1, help="share of training labels flipped")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds for cleanlab")
    parser.add_argument("--cross-fit-folds", type=int, default=2, help="folds of the cross-fitted map")
    parser.add_argument("--methods", nargs="+", choices=sorted(PARTS), default=["data-map", "cleanlab"],
                        help="parts of the comparison to run (default: the data map and cleanlab)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--results", help="results file to append to and resume from (default: <output-dir>/results.jsonl)")
    args = parser.parse_args()
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        parser.error("cleanlab is needed for the comparison: pip install 'greennlp[bench]'")

    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    results_path = Path(args.results) if args.results else output / "results.jsonl"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    settings = {"model": args.model, "train_size": args.train_size, "noise": args.noise, "epochs": args.epochs,
                "learning_rate": args.learning_rate, "batch_size": args.batch_size, "folds": args.folds}
    earlier = read_jsonl(results_path)
    # rows of other settings in the same file are kept but neither resumed nor summarised
    earlier = [r for r in earlier if all(r.get(k) == v for k, v in settings.items())]
    scratch = args.model in MINIATURE_SIZES
    records = [r for r in earlier if r["seed"] in args.seeds]

    def done(seed: int, part: str) -> bool:
        return all(any(r["seed"] == seed and r["method"] == m for r in records) for m in PARTS[part])

    for seed in args.seeds:
        parts = [part for part in PARTS if part in args.methods and not done(seed, part)]
        if not parts:
            print(f"seed {seed}: done in {results_path}", flush=True)
            continue
        # a part that did not finish is redone whole
        records = [r for r in records if r["seed"] != seed or r["method"] not in
                   {m for part in parts for m in PARTS[part]}]
        new = []
        clean = load_benchmark("sst2", "train", args.data, limit=args.train_size, seed=seed)
        train, flipped = flip_labels(clean, args.noise, seed=seed)
        tokenizer = (train_wordpiece_tokenizer(train["text"], vocab_size=8000) if scratch
                     else load_tokenizer(args.model))
        recipe = dict(epochs=args.epochs, learning_rate=args.learning_rate, batch_size=args.batch_size, seed=seed)

        def new_model(seed=seed, tokenizer=tokenizer):
            return load_encoder(args.model, num_labels=2, tokenizer=tokenizer if scratch else None, seed=seed)

        if "data-map" in parts:
            new += data_map_rows(args, settings, seed, train, flipped, tokenizer, new_model, recipe, output)
        if "cleanlab" in parts:
            new += cleanlab_rows(args, settings, seed, train, flipped, tokenizer, new_model, recipe,
                                 find_label_issues)
        if "cross-fitted" in parts:
            new += cross_fitted_rows(args, settings, seed, train, flipped, tokenizer, new_model)
        run = provenance()
        for record in new:
            append_jsonl(results_path, {**record, "run": run})
        records += new

    frame = pd.DataFrame([r for r in records if r["method"] in
                          {m for part in args.methods for m in PARTS[part]}])
    seeds = frame["seed"].nunique()
    summary = frame.groupby("method", sort=False)[["precision", "recall", "flagged", "train_flops",
                                                   "wall_seconds"]].agg(["mean", population_std])
    print(f"\nSST-2, {args.train_size:,} examples, {args.noise:.0%} flipped, model {args.model}, "
          f"{args.epochs:g} epochs, seeds {args.seeds} (mean ± std; k = number of flipped labels)\n")
    print("| method | trainings | precision | recall | flagged | training FLOPs | wall s |")
    print("|---|---|---|---|---|---|---|")
    for method, row in summary.iterrows():
        trainings = int(frame.loc[frame["method"] == method, "trainings"].iloc[0])
        print(f"| {method} | {trainings} | {fmt(row, 'precision', seeds)} | {fmt(row, 'recall', seeds)} | "
              f"{row[('flagged', 'mean')]:.0f} | {row[('train_flops', 'mean')]:.3g} | "
              f"{row[('wall_seconds', 'mean')]:.0f} |")


def data_map_rows(args, settings, seed, train, flipped, tokenizer, new_model, recipe, output) -> list[dict]:
    """Data map: one training run on all (noisy) labels, ranked four ways."""
    records = []
    map_dir = output / f"map-seed{seed}"
    budget = BudgetCallback(save=False)
    started = time.perf_counter()
    # remove_unused_columns=False keeps the id column for DataMapCallback; PaddingCollator drops it from batches
    fine_tune(new_model(), tokenizer, train, callbacks=[DataMapCallback(map_dir, id_column="id", overwrite=True),
                                                       budget], keep_columns=("id",), remove_unused_columns=False,
              **recipe)
    map_seconds = time.perf_counter() - started
    epochs = DataMap.load(map_dir).metadata["epochs_used"]
    maps = {"data map ({})": DataMap.load(map_dir), "data map, first epoch ({})": DataMap.load(map_dir, epochs=epochs[:1]),
            "data map, last epoch ({})": DataMap.load(map_dir, epochs=epochs[-1:])}
    for name, by in [("data map ({})", "aum"), ("data map ({})", "confidence"),
                     ("data map, first epoch ({})", "aum"), ("data map, last epoch ({})", "aum")]:
        suspects = maps[name].label_errors(by=by, count=len(flipped))
        records.append({**settings, "seed": seed, "method": name.format(by), "trainings": 1,
                        **scores(suspects.index, flipped), "flagged": len(suspects),
                        "train_flops": budget.price_tag_.train_flops, "wall_seconds": round(map_seconds, 1)})
        print({k: v for k, v in records[-1].items() if k != "found"}, flush=True)
    return records


def cleanlab_rows(args, settings, seed, train, flipped, tokenizer, new_model, recipe, find_label_issues) -> list[dict]:
    """Confident learning: out-of-sample probabilities from k trainings of the same recipe."""
    records = []
    labels = np.asarray(train["label"])
    probabilities = np.zeros((len(train), 2))
    fold_of = np.random.default_rng(seed).permutation(len(train)) % args.folds
    flops, started = 0.0, time.perf_counter()
    for fold in range(args.folds):
        held_out = np.flatnonzero(fold_of == fold)
        budget = BudgetCallback(save=False)
        trainer = fine_tune(new_model(), tokenizer, train.select(np.flatnonzero(fold_of != fold)),
                            callbacks=[budget], **recipe)
        flops += budget.price_tag_.train_flops
        # In dataset order: Trainer.predict would return them in a length-grouped order (transformers uses
        # LengthGroupedSampler for evaluation too when train_sampling_strategy="group_by_length").
        probabilities[held_out] = predict_proba(trainer.model, tokenizer, train.select(held_out)["text"])
    cleanlab_seconds = time.perf_counter() - started
    ranked = find_label_issues(labels, probabilities, return_indices_ranked_by="self_confidence")
    ids = np.asarray(train["id"])
    for name, chosen in (("cleanlab (its own flags)", ranked), ("cleanlab (top k)", ranked[:len(flipped)])):
        records.append({**settings, "seed": seed, "method": name, "trainings": args.folds, **scores(ids[chosen], flipped),
                        "flagged": len(chosen), "train_flops": flops, "wall_seconds": round(cleanlab_seconds, 1)})
        print({k: v for k, v in records[-1].items() if k != "found"}, flush=True)
    return records


def cross_fitted_rows(args, settings, seed, train, flipped, tokenizer, new_model) -> list[dict]:
    """Cross-fitted map: each half scored at every epoch end by the model trained on the other half (the same
    recipe); ranked by mean out-of-sample p(gold) (label_errors by confidence) and by the last epoch's alone."""
    started = time.perf_counter()
    data_map, price = cross_fitted_map(train, folds=args.cross_fit_folds, model=new_model, tokenizer=tokenizer,
                                       epochs=int(args.epochs), learning_rate=args.learning_rate,
                                       batch_size=args.batch_size, seed=seed, id_column="id")
    seconds = time.perf_counter() - started
    last = data_map.trajectories("p_gold").iloc[:, -1].sort_values(kind="stable")
    ranked = {"cross-fitted map (confidence)": data_map.label_errors(by="confidence", count=len(flipped)).index,
              "cross-fitted map, last epoch (confidence)": last.index[:len(flipped)]}
    records = []
    for name, suspects in ranked.items():
        records.append({**settings, "seed": seed, "method": name, "trainings": args.cross_fit_folds,
                        "cross_fit_folds": args.cross_fit_folds, **scores(suspects, flipped), "flagged": len(suspects),
                        "train_flops": price.metrics["training_flops"], "scoring_flops": price.metrics["forward_flops"],
                        "wall_seconds": round(seconds, 1)})
        print({k: v for k, v in records[-1].items() if k != "found"}, flush=True)
    return records


def flip_labels(dataset, noise: float, *, seed: int):
    """Flip the labels of a seeded ``noise`` share of a binary dataset; add an ``id`` column. Returns the noisy
    dataset and the set of flipped ids."""
    rng = np.random.default_rng(seed)
    flipped_rows = rng.permutation(len(dataset))[: int(round(noise * len(dataset)))]
    labels = np.asarray(dataset["label"]).copy()
    labels[flipped_rows] = 1 - labels[flipped_rows]
    ids = [f"sst2-{i:06d}" for i in range(len(dataset))]
    noisy = dataset.remove_columns("label").add_column("label", labels.tolist()).add_column("id", ids)
    return noisy, {ids[i] for i in flipped_rows}


def scores(chosen, flipped: set) -> dict:
    """Precision and recall of the ``chosen`` ids, and ``found``: 0/1 per flipped id in sorted order."""
    chosen = set(chosen)
    found = [int(i in chosen) for i in sorted(flipped)]
    return {"precision": sum(found) / max(len(chosen), 1), "recall": sum(found) / max(len(flipped), 1),
            "found": found}


def fmt(row, column: str, seeds: int) -> str:
    return f"{row[(column, 'mean')]:.3f}" + (f" ± {row[(column, 'population_std')]:.3f}" if seeds > 1 else "")


if __name__ == "__main__":
    main()
