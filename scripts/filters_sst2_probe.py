"""The SST-2 selection comparison with a cheap learner: logistic regression on frozen all-MiniLM-L6-v2
embeddings, trained on each selected subset, with the same seeds for every method. Seed ``s`` reads the data map
recorded by the tiny-BERT run with seed ``s`` (``scripts/filters_sst2_selection.py --stage maps``, same
``--train`` and ``--output``), runs k-means with seed ``s`` and selects with seed ``s``.

    PYTHONPATH=. GREENNLP_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 \\
        nice -n 10 python scripts/filters_sst2_probe.py --train 5000 --output runs/sst2_seeds --seeds 0 1 2 3 4
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from filters_sst2_common import EVAL_NAMES, METHODS, load_map, load_texts, score_sources, selector, summary_markdown
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
    args = parser.parse_args(argv)
    output = Path(args.output)
    cache = output / "embeddings"

    train, evals = load_texts(args.train, args.ood)
    labels = np.asarray(train["label"])
    train_vectors = cached_embed(list(train["text"]), DEFAULT_PRETRAINED, cache)
    eval_vectors = {name: cached_embed(list(ds["text"]), DEFAULT_PRETRAINED, cache) for name, ds in evals.items()}
    indexed = train.add_column("row", list(range(len(train))))

    def probe(rows, seed) -> dict[str, float]:
        model = LogisticRegression(max_iter=2000, C=1.0, random_state=seed).fit(train_vectors[rows], labels[rows])
        return {name: float((model.predict(eval_vectors[name]) == np.asarray(ds["label"])).mean())
                for name, ds in evals.items()}

    start, rows = time.perf_counter(), []
    for seed in args.seeds:
        sources = {seed: score_sources(load_map(output, seed, len(train)), train_vectors, labels, args.clusters, seed)}
        rows.append({"method": "full", "fraction": 1.0, "seed": seed, **probe(np.arange(len(train)), seed)})
        for fraction in args.fractions:
            for method in METHODS:
                subset = selector(method, sources)(indexed, fraction, seed)
                rows.append({"method": method, "fraction": fraction, "seed": seed,
                             **probe(np.asarray(subset["row"]), seed)})
    table = pd.DataFrame(rows)
    table.to_csv(output / "probe_runs.csv", index=False)
    summary = summary_markdown(table, list(EVAL_NAMES))
    (output / "probe_summary.md").write_text(summary + "\n")
    print(summary)
    print(f"{len(rows)} fits in {time.perf_counter() - start:.1f} s")
    return table


if __name__ == "__main__":
    main()
