"""The SST-2 selection comparison with a cheap learner: logistic regression on frozen all-MiniLM-L6-v2
embeddings, trained on each selected subset. Reuses the data map and the cached embeddings written by
``scripts/filters_sst2_selection.py`` (run that first with the same ``--train`` and ``--output``).

Because the learner is fast, every method and fraction can be run, and random with several seeds; the scores
(variability, EL2N, AUM) still come from the tiny BERT that recorded the map.

    PYTHONPATH=. GREENNLP_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 \\
        nice -n 10 python scripts/filters_sst2_probe.py --train 5000 --output runs/sst2_selection --seeds 0 1 2 3 4
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from datamaps import DataMap
from encoders import DEFAULT_PRETRAINED, load_benchmark
from filters import PrototypePruner, cached_embed, select_stratified

METHODS = {  # same choices as scripts/filters_sst2_selection.py
    "random": (None, "random"),
    "ambiguous": ("variability", "highest"),
    "el2n (highest)": ("el2n", "highest"),
    "aum (lowest)": ("aum", "lowest"),
    "prototype hard": ("prototype", "highest"),
    "prototype easy": ("prototype", "lowest"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--ood", type=int, default=1000)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.33, 0.5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--output", default="runs/sst2_selection")
    args = parser.parse_args()
    output = Path(args.output)
    cache = output / "embeddings"

    train = load_benchmark("sst2", "train", limit=args.train, seed=0)
    evals = {
        "sst2_dev": load_benchmark("sst2", "dev"),
        "imdb": load_benchmark("imdb", "test", limit=args.ood, seed=0),
        "cr": load_benchmark("cr", "all", limit=args.ood, seed=0),
    }
    train_vectors = cached_embed(list(train["text"]), DEFAULT_PRETRAINED, cache)
    eval_vectors = {name: cached_embed(list(ds["text"]), DEFAULT_PRETRAINED, cache) for name, ds in evals.items()}
    data_map = DataMap.load(output / "map")
    if len(data_map.table) != len(train):
        raise SystemExit(f"the map in {output / 'map'} has {len(data_map.table)} rows, not {len(train)}: run "
                         "filters_sst2_selection.py with the same --train first.")
    pruner = PrototypePruner(n_clusters=args.clusters, per_class=True).fit(train_vectors, y=train["label"])
    sources = {name: data_map.scores(name) for name in ("variability", "el2n", "aum")}
    sources["prototype"] = pruner.scores_
    indexed = train.add_column("row", list(range(len(train))))

    def probe(rows) -> dict[str, float]:
        model = LogisticRegression(max_iter=2000, C=1.0).fit(train_vectors[rows], np.asarray(train["label"])[rows])
        return {name: float((model.predict(eval_vectors[name]) == np.asarray(ds["label"])).mean())
                for name, ds in evals.items()}

    rows = [{"method": "full", "fraction": 1.0, "seed": 0, **probe(np.arange(len(train)))}]
    for fraction in args.fractions:
        for method, (source, keep) in METHODS.items():
            for seed in args.seeds if method == "random" else args.seeds[:1]:
                ranking = None if source is None else sources[source]
                subset = select_stratified(indexed, ranking, fraction, keep=keep, seed=seed)
                rows.append({"method": method, "fraction": fraction, "seed": seed,
                             **probe(np.asarray(subset["row"]))})
    table = pd.DataFrame(rows)
    table.to_csv(output / "probe_runs.csv", index=False)
    summary = table.groupby(["fraction", "method"], sort=False)[list(evals)].agg(["mean", "std"]).round(3)
    print(summary.to_string())


if __name__ == "__main__":
    main()
