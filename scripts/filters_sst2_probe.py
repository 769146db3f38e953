"""The SST-2 selection comparison with a cheap learner: logistic regression on frozen all-MiniLM-L6-v2
embeddings, trained on each selected subset, with the same seeds for every method. Seed ``s`` reads the data map
recorded by the tiny-BERT run with seed ``s`` (``scripts/filters_sst2_selection.py --stage maps``, same
``--train`` and ``--output``), runs k-means with seed ``s`` and selects with seed ``s``.

    GREENNLP_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 python scripts/filters_sst2_probe.py --train 5000 \\
        --output runs/sst2_seeds --seeds 0 1 2 3 4 --results docs/results/filters_sst2_probe.jsonl

``--results`` appends one JSONL row per (method, fraction, seed) with each evaluation set's accuracy, the
per-example correctness (``correct``: evaluation set -> list of 0/1), the seconds of the fit and of what the
selection needed first (the map's tiny-BERT run, k-means), and the run's provenance.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import append_jsonl, correctness, provenance
from filters_sst2_common import (
    EVAL_NAMES,
    MAP_SCORES,
    METHODS,
    load_map,
    load_texts,
    map_dir,
    score_sources,
    selector,
    summary_markdown,
)
from sklearn.linear_model import LogisticRegression

from greennlp.encoders.models import DEFAULT_PRETRAINED
from greennlp.filters.embedding_cache import cached_embed


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--ood", type=int, default=1000)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.33, 0.5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--output", default="runs/sst2_seeds")
    parser.add_argument("--results", help="append one row per run, with per-example correctness, to this JSONL file")
    args = parser.parse_args(argv)
    output = Path(args.output)
    cache = output / "embeddings"

    train, evals = load_texts(args.train, args.ood)
    labels = np.asarray(train["label"])
    start = time.perf_counter()
    train_vectors = cached_embed(list(train["text"]), DEFAULT_PRETRAINED, cache)
    embed_seconds = time.perf_counter() - start  # near zero when the cache already held the vectors
    eval_vectors = {name: cached_embed(list(ds["text"]), DEFAULT_PRETRAINED, cache) for name, ds in evals.items()}
    eval_labels = {name: np.asarray(ds["label"]) for name, ds in evals.items()}
    indexed = train.add_column("row", list(range(len(train))))
    run = provenance() if args.results else None

    def probe(rows, seed) -> tuple[dict[str, float], dict[str, list[int]], float]:
        begin = time.perf_counter()
        model = LogisticRegression(max_iter=2000, C=1.0, random_state=seed).fit(train_vectors[rows], labels[rows])
        seconds = time.perf_counter() - begin
        correct = {name: model.predict(eval_vectors[name]) == eval_labels[name] for name in evals}
        return ({name: float(c.mean()) for name, c in correct.items()},
                {name: correctness(c) for name, c in correct.items()}, seconds)

    def record(row: dict, correct: dict) -> None:
        rows.append(row)
        if args.results:
            append_jsonl(args.results, {**row, "correct": correct, "run": run})

    start, rows = time.perf_counter(), []
    for seed in args.seeds:
        data_map = load_map(output, seed, len(train))
        map_run = json.loads((map_dir(output, seed) / "full_run.json").read_text())
        begin = time.perf_counter()
        sources = {seed: score_sources(data_map, train_vectors, labels, args.clusters, seed)}
        kmeans_seconds = time.perf_counter() - begin
        shared = {"seed": seed, "train_size": len(train), "embed_seconds": round(embed_seconds, 2),
                  "map_train_seconds": round(map_run["train_seconds"], 2), "kmeans_seconds": round(kmeans_seconds, 2),
                  "map_accuracy": {name: map_run[name] for name in EVAL_NAMES}}
        accuracies, correct, seconds = probe(np.arange(len(train)), seed)
        record({"method": "full", "fraction": 1.0, "size": len(train), **accuracies, "fit_seconds": seconds,
                "needs": [], **shared}, correct)
        for fraction in args.fractions:
            for method in METHODS:
                subset = selector(method, sources)(indexed, fraction, seed)
                accuracies, correct, seconds = probe(np.asarray(subset["row"]), seed)
                source = METHODS[method][0]
                needs = ["map"] if source in MAP_SCORES else ["kmeans"] if source == "prototype" else []
                record({"method": method, "fraction": fraction, "size": len(subset), **accuracies,
                        "fit_seconds": seconds, "needs": needs, **shared}, correct)
    table = pd.DataFrame(rows)
    table.to_csv(output / "probe_runs.csv", index=False)
    summary = summary_markdown(table, list(EVAL_NAMES))
    (output / "probe_summary.md").write_text(summary + "\n")
    print(summary)
    print(f"{len(rows)} fits in {time.perf_counter() - start:.1f} s")
    return table


if __name__ == "__main__":
    main()
