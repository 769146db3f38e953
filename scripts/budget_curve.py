"""Data-budget curve on SST-2: accuracy (SST-2 dev and out-of-domain IMDB / CR) against the fraction of training
data kept by each strategy (random, data-map regions), and against training FLOPs, with a price tag per run.

    PYTHONPATH=. nice -n 10 .venv/bin/python scripts/budget_curve.py --model tiny --train-size 8000 \
        --fractions 0.25 0.5 1.0 --strategies random ambiguous easy hard --seeds 0 --epochs 4 \
        --threads 1 --output-dir runs/budget_curve/tiny

Region strategies need a data map of the same training set: pass --data-map (e.g. a map written by
scripts/cartography_sst2.py with the same --train-size) or let this script record one first (a run on all of
the training set with DataMapCallback, --map-epochs epochs, written to OUTPUT/map). Resumable: finished runs
are read back from OUTPUT/budget_curve.parquet and not redone. Writes summary.md and curve.png.
"""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from greennlp.budgets import BudgetCurve  # noqa: E402
from greennlp.datamaps import DataMap, DataMapCallback  # noqa: E402
from greennlp.encoders import (  # noqa: E402
    fine_tune,
    load_benchmark,
    load_encoder,
    load_tokenizer,
    train_wordpiece_tokenizer,
)
from greennlp.encoders.models import MINIATURE_SIZES  # noqa: E402  private: the sizes load_encoder builds from a config

OOD_SPLITS = {"imdb": "test", "cr": "all", "mr": "all"}
#: BudgetCurve's named strategies (its docstring); anything else needs a selector callable.
STRATEGIES = ("random", "ambiguous", "easy", "hard")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="a miniature size (built from a config) or a hub id / path")
    parser.add_argument("--data", help="folder holding sst2/, imdb/, cr/ (default: $GREENNLP_DATA_DIR, else the hub)")
    parser.add_argument("--train-size", type=int, default=2000, help="seeded SST-2 training subsample")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.33, 0.5, 1.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sampling", default="random", choices=["random", "group_by_length"],
                        help="batch order of the curve's runs (random by default: it keeps the runs comparable with "
                        "random order elsewhere; docs/results/encoders.md measures what length grouping costs)")
    parser.add_argument("--data-map", help="folder of a DataMap of the same training set (default: record one)")
    parser.add_argument("--map-epochs", type=float, default=3)
    parser.add_argument("--ood", nargs="*", default=["imdb", "cr"], choices=sorted(OOD_SPLITS))
    parser.add_argument("--ood-limit", type=int, default=1000, help="seeded subsample of each OOD set (0 = all)")
    parser.add_argument("--threads", type=int, help="torch threads (on a CPU shared with other jobs, 1 avoids "
                        "oversubscription)")
    parser.add_argument("--output-dir", required=True)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    hf_logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    output = Path(args.output_dir)
    scratch = args.model in MINIATURE_SIZES
    train_text = load_benchmark("sst2", "train", args.data, limit=args.train_size, seed=0)
    eval_text = {"dev": load_benchmark("sst2", "dev", args.data)}
    for name in args.ood:
        eval_text[name] = load_benchmark(name, OOD_SPLITS[name], args.data, limit=args.ood_limit or None, seed=0)
    tokenizer = train_wordpiece_tokenizer(train_text["text"], vocab_size=8000) if scratch else load_tokenizer(args.model)

    def model_init():
        return load_encoder(args.model, num_labels=2, tokenizer=tokenizer if scratch else None)

    data_map = None
    if any(s != "random" for s in args.strategies):
        map_dir = Path(args.data_map) if args.data_map else output / "map"
        if not (map_dir / "metadata.json").is_file():
            print(f"== recording a data map of {len(train_text):,} examples into {map_dir}", flush=True)
            fine_tune(load_encoder(args.model, num_labels=2, tokenizer=tokenizer if scratch else None, seed=0),
                      tokenizer, train_text, str(output / "map-run"), epochs=args.map_epochs,
                      learning_rate=args.learning_rate, batch_size=args.batch_size, seed=0,
                      callbacks=[DataMapCallback(map_dir)])
        data_map = DataMap.load(map_dir)
        if len(data_map.table) != len(train_text):
            raise SystemExit(f"The data map at {map_dir} describes {len(data_map.table)} examples but the training set "
                             f"has {len(train_text)}; use the same --train-size, or drop --data-map to record one.")

    curve = BudgetCurve(
        model_init,
        train_text,
        eval_text,
        output,
        tokenizer=tokenizer,
        strategies=args.strategies,
        fractions=args.fractions,
        seeds=args.seeds,
        data_map=data_map,
        training_args=dict(num_train_epochs=args.epochs, learning_rate=args.learning_rate,
                           per_device_train_batch_size=args.batch_size, train_sampling_strategy=args.sampling),
    )
    curve.run()
    summary = curve.summary()
    metrics = [c[: -len("_mean")] for c in summary.columns if c.startswith("accuracy_") and c.endswith("_mean")]
    # column names: the PriceTag fields (train_flops, wall_time_s); std over seeds with ddof=0 (BudgetCurve.summary)
    lines = ["Accuracy mean ± std over seeds (population std, ddof=0).", "",
             "| strategy | fraction | runs | " + " | ".join(m.removeprefix("accuracy_") for m in metrics)
             + " | train_flops | wall_time_s |", "|---|---|---|" + "---|" * (len(metrics) + 2)]
    for row in summary.itertuples(index=False):
        row = row._asdict()
        cells = [f"{row[m + '_mean']:.3f} ± {row[m + '_std']:.3f}" for m in metrics]
        lines.append(f"| {row['strategy']} | {row['fraction']:g} | {row['runs']} | " + " | ".join(cells)
                     + f" | {row['train_flops_mean']:.3g} | {row['wall_time_s_mean']:.0f} |")
    table = "\n".join(lines)
    (output / "summary.md").write_text(table + "\n")
    curve.plot(output / "curve.png")
    print(table)


if __name__ == "__main__":
    main()
