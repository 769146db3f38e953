"""Selection priced end to end on SST-2: cheap data maps against the full map of the cartography run, and the
third chosen by a cheap map, trained exactly like the cartography script's subsets, at its total price.

Reuses scripts/cartography_sst2.py's run (its training sample, recipe, full maps and rows):

    python scripts/cartography_sst2.py --model sentence-transformers/all-MiniLM-L6-v2 --train-size 10000 \
        --validation-size 1000 ... --output-dir runs/cartography/sst2_10k \
        --results docs/results/cartography_sst2_10k_minilm.jsonl

Stage `maps` (per seed): the cheap maps of `greennlp.budgets.cheap_map` (probe, proxy, early, subsample; library
defaults, seeded by the seed) of that seed's training sample, each one's price (FLOPs and seconds) against the full
run's (the cartography row "100%" of the seed), and its agreement with the full map of the same seed (map-seed{S}):
Spearman correlation of confidence and of variability, and the share of each of the full map's regions that the
cheap map puts in the same region. A reference row compares the full map with the full map of the next seed.

    python scripts/selection_price.py --stage maps --seeds 0

Stage `select` (per seed, after `maps` for every seed): the map kind is chosen by a rule fixed before any result:
among the cheap maps whose mean price (over the seeds of the agreement file) leaves room for a `--fraction` subset
within half the full run (price share <= 0.5 - fraction), the one whose ambiguous region overlaps the full map's
most (no evaluation data is used). Its ambiguous third (`select_by_region`) and its trajectory-cluster third
(S2L: `DataMap.select_trajectories`, loss trajectories, `--clusters` clusters), and a random subset given the map's
FLOPs as more data (fraction + map share), are trained with the cartography recipe and scored per example on the
validation split and SST-2 dev.

    python scripts/selection_price.py --stage select --seeds 0

Rows: `--agreement` (maps) and `--results` (select), one JSON line each with its provenance; resumable (a finished
(seed, map) or (seed, method) is not redone).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import append_jsonl, correctness, provenance, read_jsonl
from scipy.stats import spearmanr

from greennlp.budgets import BudgetCallback, cheap_map
from greennlp.datamaps import DataMap
from greennlp.encoders import (
    accuracy,
    embed,
    fine_tune,
    load_benchmark,
    load_encoder,
    load_tokenizer,
    train_wordpiece_tokenizer,
)
from greennlp.filters import select_by_region, select_random

KINDS = ("probe", "proxy", "early", "subsample")
REGIONS = ("ambiguous", "easy-to-learn", "hard-to-learn")
#: the sizes that load_encoder builds from a config (trained from scratch, with a WordPiece vocabulary of the data)
MINIATURE_SIZES = ("tiny", "mini", "small", "medium")
#: the reference row of the agreement file: the full map of another seed
REFERENCE = "full (next seed)"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=("maps", "select"), required=True)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--data", help="folder holding sst2/ (default: $GREENNLP_DATA_DIR, else the hub)")
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--validation-size", type=int, default=1000)
    parser.add_argument("--in-domain-limit", type=int, default=0, help="seeded subsample of SST-2 dev (0 = all)")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--fraction", type=float, default=0.33)
    parser.add_argument("--clusters", type=int, default=100, help="k-means clusters of the S2L selection")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--map-kind", choices=KINDS, help="select: use this map instead of the rule's choice")
    parser.add_argument("--cartography-dir", default="runs/cartography/sst2_10k")
    parser.add_argument("--cartography-results", default="docs/results/cartography_sst2_10k_minilm.jsonl")
    parser.add_argument("--output-dir", default="runs/selection_price/sst2_10k")
    parser.add_argument("--agreement", default="docs/results/selection_price_agreement_sst2_10k.jsonl")
    parser.add_argument("--results", default="docs/results/selection_price_sst2_10k.jsonl")
    return parser.parse_args(argv)


def load_data(args):
    """The cartography script's split: a seeded sample of train (seed 0), its first --train-size rows to train on
    and the rest held out as 'validation'; SST-2 dev in domain."""
    pool = load_benchmark("sst2", "train", args.data, limit=args.train_size + args.validation_size, seed=0)
    train = pool.select(range(args.train_size))
    evaluation = {"validation": pool.select(range(args.train_size, len(pool))),
                  "sst2-dev": load_benchmark("sst2", "dev", args.data, limit=args.in_domain_limit or None, seed=0)}
    return train, evaluation


def full_runs(args) -> dict[int, dict]:
    """The cartography rows of the 100% runs (the full maps' runs), by seed, checked against these settings."""
    rows = {r["seed"]: r for r in read_jsonl(args.cartography_results)
            if r.get("subset") == "100%" and r.get("train_set", "sst2") == "sst2"}
    for seed in args.seeds:
        if seed not in rows:
            raise SystemExit(f"{args.cartography_results} has no 100% row for seed {seed}: run "
                             "scripts/cartography_sst2.py first (its maps and rows are reused here).")
        row = rows[seed]
        if row["size"] != args.train_size or float(row["epochs"]) != args.epochs:
            raise SystemExit(f"The cartography run of seed {seed} trained {row['size']} examples for {row['epochs']} "
                             f"epochs; these settings say {args.train_size} and {args.epochs}.")
    return rows


def tokenizer_for(args, train):
    # as the cartography script: a miniature size gets a WordPiece vocabulary of the training texts
    if args.model in MINIATURE_SIZES:
        return train_wordpiece_tokenizer(train["text"], vocab_size=8000)
    return load_tokenizer(args.model)


def map_path(args, seed: int, kind: str) -> Path:
    """Where the map of ``kind`` used for selection lives (for subsample: the extended map, not the sample's)."""
    name = {"probe": "probe", "proxy": "proxy", "early": "early", "subsample": "subsample-extended"}[kind]
    return Path(args.output_dir) / f"seed{seed}" / name


def agreement(cheap: DataMap, full: DataMap) -> dict:
    """Spearman of confidence and variability, and per region the share of the full map's members that the cheap
    map puts in the same region (with the share expected by chance: the cheap map's region size over N)."""
    if len(cheap) != len(full) or not (cheap.table["gold"].to_numpy() == full.table["gold"].to_numpy()).all():
        raise SystemExit("The cheap map and the full map do not describe the same examples in the same order.")
    result = {}
    for column in ("confidence", "variability"):
        a, b = cheap.table[column].to_numpy(float), full.table[column].to_numpy(float)
        both = ~np.isnan(a) & ~np.isnan(b)
        result[f"spearman_{column}"] = float(spearmanr(a[both], b[both]).statistic)
    overlap, chance, sizes = {}, {}, {}
    for region in REGIONS:
        mine = (cheap.table["region"] == region).to_numpy()
        theirs = (full.table["region"] == region).to_numpy()
        overlap[region] = float((mine & theirs).sum() / max(theirs.sum(), 1))
        chance[region] = float(mine.sum() / len(mine))
        sizes[region] = int(mine.sum())
    return {**result, "overlap": overlap, "chance": chance, "region_sizes": sizes}


def stage_maps(args) -> None:
    train, _ = load_data(args)
    full = full_runs(args)
    tokenizer = tokenizer_for(args, train)
    done = {(r["seed"], r["map"]) for r in read_jsonl(args.agreement)}
    for seed in args.seeds:
        full_map = DataMap.load(Path(args.cartography_dir) / f"map-seed{seed}")
        if len(full_map) != len(train):
            raise SystemExit(f"The full map of seed {seed} has {len(full_map)} examples, the training sample "
                             f"{len(train)}.")
        base = {"seed": seed, "full_flops": full[seed]["train_flops"], "full_seconds": full[seed]["train_seconds"]}
        kinds = [kind for kind in args.kinds if (seed, kind) not in done]
        embeddings, embed_seconds = None, 0.0
        if {"probe", "subsample"} & set(kinds):
            started = time.perf_counter()
            embeddings = embed(train["text"], load_encoder(args.model, tokenizer=tokenizer, seed=seed), tokenizer,
                               max_length=128)
            embed_seconds = time.perf_counter() - started
        for kind in kinds:
            print(f"== seed {seed}: {kind} map", flush=True)
            folder = Path(args.output_dir) / f"seed{seed}" / kind
            data_map, price = cheap_map(train, kind=kind, model=args.model, tokenizer=tokenizer, output_dir=folder,
                                        embeddings=embeddings if kind in ("probe", "subsample") else None,
                                        seed=seed, batch_size=args.batch_size, overwrite=True)
            if kind in ("probe", "subsample"):
                data_map.save(map_path(args, seed, kind), overwrite=True)
            seconds = price.wall_time_s + (embed_seconds if kind in ("probe", "subsample") else 0.0)
            row = {**base, "map": kind, "mode": data_map.metadata.get("mode"), "map_epochs": price.epochs,
                   "time_points": len(data_map.trajectories().columns), "map_flops": price.train_flops,
                   "map_training_flops": price.metrics["training_flops"],
                   "map_forward_flops": price.metrics["forward_flops"], "map_seconds": round(seconds, 1),
                   "flops_method": price.flops_method, **agreement(data_map, full_map), "run": provenance()}
            append_jsonl(args.agreement, row)
            print("   ", {k: v for k, v in row.items() if k not in ("run", "flops_method")}, flush=True)
        if (seed, REFERENCE) not in done:
            other = (seed + 1) % 3
            other_path = Path(args.cartography_dir) / f"map-seed{other}"
            if other_path.exists():
                row = {**base, "map": REFERENCE, "other_seed": other, "map_flops": full[seed]["train_flops"],
                       "map_seconds": full[seed]["train_seconds"],
                       **agreement(DataMap.load(other_path), full_map), "run": provenance()}
                append_jsonl(args.agreement, row)


def chosen_kind(args) -> tuple[str, dict]:
    """The rule of the select stage (module docstring); returns the kind and the per-kind means it was chosen by."""
    rows = [r for r in read_jsonl(args.agreement) if r["map"] in KINDS]
    if not rows:
        raise SystemExit(f"{args.agreement} holds no cheap maps: run --stage maps first.")
    means = {}
    for kind in KINDS:
        mine = [r for r in rows if r["map"] == kind]
        if mine:
            means[kind] = {"share": float(np.mean([r["map_flops"] / r["full_flops"] for r in mine])),
                           "ambiguous_overlap": float(np.mean([r["overlap"]["ambiguous"] for r in mine])),
                           "seeds": sorted(r["seed"] for r in mine)}
    if args.map_kind:
        return args.map_kind, means
    room = {k: m for k, m in means.items() if m["share"] <= 0.5 - args.fraction}
    if not room:
        raise SystemExit(f"No cheap map leaves room for a {args.fraction} subset within half the full run: "
                         f"{means}. Pass --map-kind to select with one anyway.")
    return max(room, key=lambda k: room[k]["ambiguous_overlap"]), means


def choose(train, data_map: DataMap, selection: str, fraction: float, seed: int, clusters: int):
    """The ``selection`` subset of ``train``: the map's ambiguous region, its S2L draw, or a random subset."""
    if selection == "ambiguous":
        return select_by_region(train, data_map, "ambiguous", fraction=fraction, seed=seed)
    if selection == "S2L":
        ids = data_map.select_trajectories(fraction=fraction, clusters=clusters, seed=seed)
        return train.select(np.sort(data_map.dataset_rows(train)[ids].to_numpy()))
    return select_random(train, fraction, seed=seed)


def stage_select(args) -> None:
    train, evaluation = load_data(args)
    full = full_runs(args)
    tokenizer = tokenizer_for(args, train)
    kind, means = chosen_kind(args)
    print(f"map chosen by the rule: {kind} ({means})", flush=True)
    done = {(r["seed"], r["method"]) for r in read_jsonl(args.results)}
    agreement_rows = {(r["seed"], r["map"]): r for r in read_jsonl(args.agreement)}
    for seed in args.seeds:
        if (seed, kind) not in agreement_rows:
            raise SystemExit(f"{args.agreement} has no {kind} map of seed {seed}: run --stage maps for it.")
        price = agreement_rows[(seed, kind)]
        data_map = DataMap.load(map_path(args, seed, kind))
        share = price["map_flops"] / full[seed]["train_flops"]
        subsets = [(f"{kind} map: ambiguous", "ambiguous", args.fraction), (f"{kind} map: S2L", "S2L", args.fraction),
                   ("random, map budget as data", "random", round(args.fraction + share, 4))]
        for method, selection, fraction in subsets:
            if (seed, method) in done:
                continue
            subset = choose(train, data_map, selection, fraction, seed, args.clusters)
            print(f"== seed {seed}: {method} ({len(subset):,} examples)", flush=True)
            budget = BudgetCallback(save=False)
            model = load_encoder(args.model, num_labels=2, tokenizer=tokenizer if args.model in MINIATURE_SIZES
                                 else None, seed=seed)
            started = time.perf_counter()
            trainer = fine_tune(model, tokenizer, subset, epochs=args.epochs, learning_rate=args.learning_rate,
                                batch_size=args.batch_size, seed=seed, callbacks=[budget])
            row = {"seed": seed, "method": method, "map": kind if selection != "random" else None,
                   "selection": selection, "fraction": fraction, "size": len(subset), "epochs": args.epochs,
                   "map_flops": price["map_flops"] if selection != "random" else 0.0,
                   "map_seconds": price["map_seconds"] if selection != "random" else 0.0,
                   "train_flops": budget.price_tag_.train_flops,
                   "train_seconds": round(time.perf_counter() - started, 1),
                   "full_flops": full[seed]["train_flops"], "rule": means}
            correct = {}
            for name, dataset in evaluation.items():
                correct[name] = accuracy(trainer.model, tokenizer, dataset, max_length=128, per_example=True)
                row[name] = float(correct[name].mean())
            row["test_accuracy"] = row["sst2-dev"]
            row["correct"] = {name: correctness(values) for name, values in correct.items()}
            row["run"] = provenance()
            append_jsonl(args.results, row)
            print("   ", {k: v for k, v in row.items() if k not in ("correct", "run", "rule")}, flush=True)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.stage == "maps":
        stage_maps(args)
    else:
        stage_select(args)


if __name__ == "__main__":
    main()
