"""Cartography on SST-2: train on 100%, then on 33% ambiguous / random / easy-to-learn / hard-to-learn,
over several seeds; accuracy on SST-2 dev and on out-of-domain sets (IMDB, CR; not MR, which shares SST's
Rotten Tomatoes source). Resumable: finished runs are read back from results.jsonl, not redone.

    python scripts/cartography_sst2.py --model sentence-transformers/all-MiniLM-L6-v2 --train-size 1500 \
        --epochs 3 --subset-epochs 6 --learning-rate 1e-4 --seeds 0 1 2 --output-dir runs/cartography/minilm
    python scripts/cartography_sst2.py --model tiny --train-size 4000 --epochs 4 --subset-epochs 8 \
        --learning-rate 1e-3 --seeds 0 1 2 --output-dir runs/cartography/tiny

Each seed trains its own 100% run with DataMapCallback and selects subsets from that run's map.
Writes results.jsonl (one line per run), summary.md (mean ± population std, ddof=0) and datamap.png (first seed).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

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
from greennlp.filters import select_by_region, select_random

SUBSETS = ("100%", "ambiguous", "random", "easy-to-learn", "hard-to-learn")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="hub id / path of a pretrained encoder, or a miniature size")
    parser.add_argument("--data", help="folder holding sst2/, imdb/, cr/ (default: $GREENNLP_DATA_DIR, else the hub)")
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--subset-epochs", type=float,
                        help="epochs for the subsets (default: --epochs); more epochs give small subsets enough steps")
    parser.add_argument("--fraction", type=float, default=0.33)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--ood", nargs="*", default=["imdb", "cr"], help="out-of-domain sets")
    parser.add_argument("--ood-limit", type=int, default=1000, help="seeded subsample of each OOD set (0 = all)")
    parser.add_argument("--eval-max-length", type=int, default=128,
                        help="tokens kept per evaluation text (IMDB reviews are truncated to their start)")
    parser.add_argument("--output-dir", required=True)
    return parser.parse_args(argv)


def append_jsonl(path: Path, record: dict) -> None:
    """Append one finished run; a line is written whole with one write and flushed (crash-safe enough to resume)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def std(values) -> float:
    """Population std over seeds (``ddof=0``, as ``numpy.std``): the project's one convention."""
    return float(np.std(values))


def main(argv=None) -> pd.DataFrame:
    args = parse_args(argv)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    results_path = output / "results.jsonl"
    done = {}
    if results_path.exists():
        for line in results_path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                done[(record["seed"], record["subset"])] = record
    scratch = args.model in MINIATURE_SIZES
    train = load_benchmark("sst2", "train", args.data, limit=args.train_size, seed=0)
    eval_sets = {"sst2-dev": load_benchmark("sst2", "dev", args.data)}
    for name in args.ood:
        split = {"imdb": "test", "cr": "all"}.get(name, "test")
        eval_sets[name] = load_benchmark(name, split, args.data, limit=args.ood_limit or None, seed=0)
    tokenizer = train_wordpiece_tokenizer(train["text"], vocab_size=8000) if scratch else load_tokenizer(args.model)

    for seed in args.seeds:
        map_dir = output / f"map-seed{seed}"
        for subset_name in SUBSETS:
            if (seed, subset_name) in done:
                continue
            if subset_name == "100%":
                subset, callbacks = train, [DataMapCallback(map_dir)]
            else:
                data_map = DataMap.load(map_dir)
                if subset_name == "random":
                    subset = select_random(train, args.fraction, seed=seed)
                else:
                    subset = select_by_region(train, data_map, subset_name, fraction=args.fraction, seed=seed)
                callbacks = []
            print(f"== seed {seed}: {subset_name} ({len(subset):,} examples)", flush=True)
            model = load_encoder(args.model, num_labels=2, tokenizer=tokenizer if scratch else None, seed=seed)
            started = time.perf_counter()
            epochs = args.epochs if subset_name == "100%" else (args.subset_epochs or args.epochs)
            trainer = fine_tune(model, tokenizer, subset, str(output / "checkpoints"), epochs=epochs,
                                learning_rate=args.learning_rate, batch_size=args.batch_size, seed=seed,
                                callbacks=callbacks)
            record = {"seed": seed, "subset": subset_name, "size": len(subset), "epochs": epochs,
                      "train_seconds": round(time.perf_counter() - started, 1)}
            for name, dataset in eval_sets.items():
                record[name] = accuracy(trainer.model, tokenizer, dataset, max_length=args.eval_max_length)
            append_jsonl(results_path, record)
            done[(seed, subset_name)] = record
            print("   ", {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}, flush=True)
        if seed == args.seeds[0] and not (output / "datamap.png").exists():
            DataMap.load(map_dir).plot(output / "datamap.png", title=f"SST-2 ({args.model}, {len(train):,} examples, seed {seed})")

    frame = pd.DataFrame([r for r in done.values() if r["seed"] in args.seeds])
    metrics = list(eval_sets)
    summary = frame.groupby("subset", sort=False)[metrics + ["train_seconds"]].agg(["mean", std])
    lines = ["| subset | size | " + " | ".join(metrics) + " | train s |", "|---|---|" + "---|" * (len(metrics) + 1)]
    for subset_name in SUBSETS:
        if subset_name not in summary.index:
            continue
        row = summary.loc[subset_name]
        size = int(frame.loc[frame["subset"] == subset_name, "size"].iloc[0])
        cells = [f"{row[(m, 'mean')]:.3f} ± {np.nan_to_num(row[(m, 'std')]):.3f}" for m in metrics]
        lines.append(f"| {subset_name} | {size:,} | " + " | ".join(cells) + f" | {row[('train_seconds', 'mean')]:.0f} |")
    table = "\n".join(lines)
    (output / "summary.md").write_text(table + "\n")
    print(table)
    return frame


if __name__ == "__main__":
    main()
