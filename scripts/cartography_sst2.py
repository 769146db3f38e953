"""Cartography on SST-2 (or IMDB): train on 100%, then on 33% subsets chosen from that run's map (ambiguous,
random, coverage-centric (CCS), ambiguous mixed with easy-to-learn, easy-to-learn, hard-to-learn), over several
seeds; accuracy in domain (SST-2 dev / IMDB test) and out of domain (the other of SST-2 and IMDB, and CR; not MR,
which shares SST's Rotten Tomatoes source). Resumable: finished runs are read back from the results file (one JSON
line each, appended whole and fsynced), not redone.

    python scripts/cartography_sst2.py --model sentence-transformers/all-MiniLM-L6-v2 --train-size 1500 \
        --epochs 3 --subset-epochs 6 --learning-rate 1e-4 --seeds 0 1 2 --output-dir runs/cartography/minilm
    python scripts/cartography_sst2.py --model tiny --train-size 4000 --epochs 4 --subset-epochs 8 \
        --learning-rate 1e-3 --seeds 0 1 2 --output-dir runs/cartography/tiny

    python scripts/cartography_sst2.py --model sentence-transformers/all-MiniLM-L6-v2 --train-size 10000 \
        --validation-size 1000 --epochs 3 --subsets 100% random ambiguous ambiguous+easy easy-to-learn --seeds 0 1 2 \
        --output-dir runs/cartography/sst2_10k --results docs/results/cartography_sst2_10k_minilm.jsonl

Each seed trains its own 100% run with DataMapCallback and selects subsets from that run's map. Every row holds
each evaluation set's per-example correctness (for paired intervals), the training FLOPs of the row and, for a
map-chosen subset, the FLOPs of the map's run (its full price), and the command, machine and versions.
`--validation-size N` holds N more training examples out of every run, scored like the evaluation sets: the
split on which a "best" subset is chosen before looking at the others. Writes the results file (default
<output-dir>/results.jsonl), summary.md (mean ± population std, ddof=0, and each subset minus random paired by
seed) and datamap.png (first seed).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import append_jsonl, correctness, population_std, provenance, read_jsonl

from greennlp.budgets import BudgetCallback
from greennlp.datamaps import DataMap, DataMapCallback
from greennlp.encoders import (
    accuracy,
    fine_tune,
    load_benchmark,
    load_encoder,
    load_tokenizer,
    train_wordpiece_tokenizer,
)
from greennlp.encoders.models import MINIATURE_SIZES  # private: the miniature sizes load_encoder builds from a config
from greennlp.filters import select_by_region, select_random

SUBSETS = ("100%", "ambiguous", "random", "coverage", "ambiguous+easy", "easy-to-learn", "hard-to-learn")
#: in-domain evaluation split of each training set
IN_DOMAIN = {"sst2": ("sst2", "dev"), "imdb": ("imdb", "test")}
OOD_SPLITS = {"sst2": "dev", "imdb": "test", "cr": "all"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="hub id / path of a pretrained encoder, or a miniature size")
    parser.add_argument("--data", help="folder holding sst2/, imdb/, cr/ (default: $GREENNLP_DATA_DIR, else the hub)")
    parser.add_argument("--train-set", choices=sorted(IN_DOMAIN), default="sst2")
    parser.add_argument("--train-size", type=int, default=2000, help="seeded training subsample (0 = all)")
    parser.add_argument("--validation-size", type=int, default=0,
                        help="training examples held out of every run and scored as the 'validation' set")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--subset-epochs", type=float,
                        help="epochs for the subsets (default: --epochs); more epochs give small subsets enough steps")
    parser.add_argument("--fraction", type=float, default=0.33)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--subsets", nargs="+", choices=SUBSETS, default=list(SUBSETS),
                        help="rows to run per seed, in this order (100%% is always run first: it records the map)")
    parser.add_argument("--easy-share", type=float, default=0.25,
                        help="share of the ambiguous+easy subset drawn at random from easy-to-learn")
    parser.add_argument("--prune-hardest", type=float, default=0.05,
                        help="coverage (CCS): share of lowest-AUM examples dropped before stratified sampling")
    parser.add_argument("--ood", nargs="*", help="out-of-domain sets (default: the other of sst2/imdb, and cr)")
    parser.add_argument("--ood-limit", type=int, default=1000, help="seeded subsample of each OOD set (0 = all)")
    parser.add_argument("--eval-max-length", type=int, default=128,
                        help="tokens kept per evaluation text (IMDB reviews are truncated to their start)")
    parser.add_argument("--in-domain-limit", type=int, default=0,
                        help="seeded subsample of the in-domain evaluation split (0 = all; SST-2 dev has 872)")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--results", help="results file to append to (default: <output-dir>/results.jsonl)")
    return parser.parse_args(argv)


def choose_subset(train, data_map: DataMap, name: str, args, seed: int):
    """The ``name`` subset of ``train`` (a ``args.fraction`` share), chosen from ``data_map`` with ``seed``."""
    if name == "random":
        return select_random(train, args.fraction, seed=seed)
    if name == "coverage":
        ids = data_map.select_coverage(fraction=args.fraction, prune_hardest=args.prune_hardest, seed=seed)
        return train.select(np.sort(data_map.dataset_rows(train)[ids].to_numpy()))
    if name == "ambiguous+easy":
        return select_by_region(train, data_map, "ambiguous", fraction=args.fraction, seed=seed,
                                mix={"easy-to-learn": args.easy_share})
    return select_by_region(train, data_map, name, fraction=args.fraction, seed=seed)


def paired_differences(frame: pd.DataFrame, metrics: list[str], baseline: str = "random") -> pd.DataFrame:
    """Per subset and metric: mean and population std over seeds of (subset - ``baseline``) in the same seed, and
    the number of seeds in which the subset is ahead.

    >>> frame = pd.DataFrame({"seed": [0, 0, 1, 1], "subset": ["random", "a", "random", "a"],
    ...                       "acc": [0.80, 0.82, 0.81, 0.80]})
    >>> paired_differences(frame, ["acc"]).round(3).to_dict("records")
    [{'subset': 'a', 'metric': 'acc', 'mean': 0.005, 'std': 0.015, 'ahead': 1, 'seeds': 2}]
    """
    wide = frame.pivot_table(index="seed", columns="subset", values=metrics)
    rows = []
    for subset in [s for s in dict.fromkeys(frame["subset"]) if s != baseline]:
        for metric in metrics:
            if (metric, subset) not in wide or (metric, baseline) not in wide:
                continue
            diff = (wide[(metric, subset)] - wide[(metric, baseline)]).dropna()
            if len(diff):
                rows.append({"subset": subset, "metric": metric, "mean": float(diff.mean()), "std": population_std(diff),
                             "ahead": int((diff > 0).sum()), "seeds": len(diff)})
    return pd.DataFrame(rows)


def main(argv=None) -> pd.DataFrame:
    args = parse_args(argv)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    results_path = Path(args.results) if args.results else output / "results.jsonl"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    subsets = ["100%"] + [name for name in args.subsets if name != "100%"]
    ood = args.ood if args.ood is not None else [n for n in ("sst2", "imdb", "cr") if n != args.train_set]
    done = {}
    for record in read_jsonl(results_path):
        if record.get("train_set", "sst2") == args.train_set:
            done[(record["seed"], record["subset"])] = record
    scratch = args.model in MINIATURE_SIZES
    train = load_benchmark(args.train_set, "train", args.data, limit=args.train_size or None, seed=0)
    eval_sets = {}
    if args.validation_size:
        if not args.train_size:
            raise SystemExit("--validation-size needs --train-size: the validation examples are held out of the "
                             "training split, so they cannot come from all of it.")
        pool = load_benchmark(args.train_set, "train", args.data, limit=args.train_size + args.validation_size,
                              seed=0)
        train = pool.select(range(args.train_size))
        eval_sets["validation"] = pool.select(range(args.train_size, len(pool)))
    benchmark, split = IN_DOMAIN[args.train_set]
    eval_sets[f"{benchmark}-{split}"] = load_benchmark(benchmark, split, args.data,
                                                       limit=args.in_domain_limit or None, seed=0)
    for name in ood:
        eval_sets[name] = load_benchmark(name, OOD_SPLITS.get(name, "test"), args.data,
                                         limit=args.ood_limit or None, seed=0)
    tokenizer = train_wordpiece_tokenizer(train["text"], vocab_size=8000) if scratch else load_tokenizer(args.model)

    for seed in args.seeds:
        map_dir = output / f"map-seed{seed}"
        for subset_name in subsets:
            if (seed, subset_name) in done:
                continue
            budget = BudgetCallback(save=False)
            if subset_name == "100%":
                subset, callbacks = train, [DataMapCallback(map_dir), budget]
            else:
                if not map_dir.exists():
                    raise SystemExit(f"{map_dir} is missing but the results file holds seed {seed}'s 100% run: the "
                                     "map of that run is needed to select its subsets. Remove that seed's rows "
                                     "from the results file to retrain it, or restore the folder.")
                subset = choose_subset(train, DataMap.load(map_dir), subset_name, args, seed)
                callbacks = [budget]
            print(f"== seed {seed}: {subset_name} ({len(subset):,} examples)", flush=True)
            model = load_encoder(args.model, num_labels=2, tokenizer=tokenizer if scratch else None, seed=seed)
            started = time.perf_counter()
            epochs = args.epochs if subset_name == "100%" else (args.subset_epochs or args.epochs)
            trainer = fine_tune(model, tokenizer, subset, str(output / "checkpoints"), epochs=epochs,
                                learning_rate=args.learning_rate, batch_size=args.batch_size, seed=seed,
                                callbacks=callbacks)
            record = {"train_set": args.train_set, "seed": seed, "subset": subset_name, "size": len(subset),
                      "epochs": epochs, "train_seconds": round(time.perf_counter() - started, 1),
                      "train_flops": budget.price_tag_.train_flops,
                      # a subset chosen from the map carries the price of the run that recorded the map
                      "map_flops": 0.0 if subset_name in ("100%", "random")
                      else done[(seed, "100%")].get("train_flops", float("nan")),
                      "map_seconds": 0.0 if subset_name in ("100%", "random")
                      else done[(seed, "100%")]["train_seconds"]}
            correct = {}
            for name, dataset in eval_sets.items():
                correct[name] = accuracy(trainer.model, tokenizer, dataset, max_length=args.eval_max_length,
                                         per_example=True)
                record[name] = float(correct[name].mean())
            record["correct"] = {name: correctness(values) for name, values in correct.items()}
            record["run"] = provenance()
            append_jsonl(results_path, record)
            done[(seed, subset_name)] = record
            print("   ", {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()
                        if k not in ("correct", "run")}, flush=True)
        if seed == args.seeds[0] and not (output / "datamap.png").exists():
            DataMap.load(map_dir).plot(output / "datamap.png",
                                       title=f"{args.train_set} ({args.model}, {len(train):,} examples, seed {seed})")

    frame = pd.DataFrame([r for r in done.values() if r["seed"] in args.seeds])
    metrics = list(eval_sets)
    summary = frame.groupby("subset", sort=False)[metrics + ["train_seconds"]].agg(["mean", population_std])
    lines = ["| subset | size | " + " | ".join(metrics) + " | train s |", "|---|---|" + "---|" * (len(metrics) + 1)]
    for subset_name in subsets:
        if subset_name not in summary.index:
            continue
        row = summary.loc[subset_name]
        size = int(frame.loc[frame["subset"] == subset_name, "size"].iloc[0])
        cells = [f"{row[(m, 'mean')]:.3f} ± {np.nan_to_num(row[(m, 'population_std')]):.3f}" for m in metrics]
        lines.append(f"| {subset_name} | {size:,} | " + " | ".join(cells) + f" | {row[('train_seconds', 'mean')]:.0f} |")
    differences = paired_differences(frame, metrics)
    if len(differences):
        lines += ["", "Minus random, paired by seed (mean ± std; seeds ahead / seeds):", "",
                  "| subset | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
        for subset_name, group in differences.groupby("subset", sort=False):
            cells = {r.metric: f"{100 * r.mean:+.1f} ± {100 * r.std:.1f} ({r.ahead}/{r.seeds})"
                     for r in group.itertuples()}
            lines.append(f"| {subset_name} | " + " | ".join(cells.get(m, "") for m in metrics) + " |")
    table = "\n".join(lines)
    (output / "summary.md").write_text(table + "\n")
    print(table)
    return frame


if __name__ == "__main__":
    main()
