"""Few-shot benchmark: K per class x data seeds x methods on SST-2, TREC and CR, with price tags.

Writes runs.parquet, summary.parquet and accuracy_vs_k.png per dataset folder under --output-dir and prints
the summary as Markdown. Rerunning with the same --output-dir resumes: runs already in runs.parquet are kept.
Example (docs/results/fewshot.md lists the exact commands behind its numbers):

    PYTHONPATH=. GREENNLP_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 nice -n 10 python scripts/fewshot_benchmark.py \\
        --datasets sst2 --k 8 --seeds 5 --methods head probe contrastive prototype --output-dir runs/fewshot

``--results FILE.jsonl`` also appends this command's runs (one row per dataset, method, K and seed, with the
price columns and the run's provenance: command, machine, versions, date) to a JSONL file such as
docs/results/fewshot_<name>.jsonl, from which docs/results/fewshot.md is generated.

``--from-runs A/runs.parquet B/runs.parquet ...`` trains nothing: it merges finished tables (runs present in
several keep the first), prints the per-dataset tables (K x method, mean ± std) and writes the merged
runs.parquet, summary.parquet and one accuracy_vs_k.png with a panel per dataset to --output-dir.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from greennlp.encoders import load_benchmark
from greennlp.encoders.models import DEFAULT_PRETRAINED, resolve_model_path
from greennlp.fewshot import (
    ContrastiveClassifier,
    HeadClassifier,
    LinearProbe,
    PatternClassifier,
    PrototypeClassifier,
    run_benchmark,
    summarize_benchmark,
)

# dataset -> (train split, evaluation split or None to hold out a seeded share of the one split)
SPLITS = {"sst2": ("train", "dev"), "trec": ("train", "test"), "cr": ("all", None), "mr": ("all", None)}
# LM-BFF's templates and label words (Gao et al. 2021, Table 1), for PatternClassifier
PATTERNS = {
    "sst2": ("{text} It was {mask}.", {0: "terrible", 1: "great"}),
    "cr": ("{text} It was {mask}.", {0: "terrible", 1: "great"}),
    "mr": ("{text} It was {mask}.", {0: "terrible", 1: "great"}),
    "trec": ("{mask} : {text}", {0: "expression", 1: "description", 2: "entity", 3: "human", 4: "location", 5: "number"}),
}
METHODS = ("head", "probe", "contrastive", "prototype", "prototype-adapter", "pattern", "pattern-zeroshot")


def given(**options) -> dict:
    """The options set on the command line (``None`` = keep the class default)."""
    return {key: value for key, value in options.items() if value is not None}


def recipe_name(method: str, options: dict) -> str:
    """A non-default recipe gets its own name, so tables from several recipes can be merged."""
    return " ".join([method] + [f"{key}={value:g}" for key, value in options.items()])


def parse_pattern_words(specs: list[str]) -> dict[str, dict[int, str]]:
    """``["trec:2=thing"]`` -> ``{"trec": {2: "thing"}}`` (label words that replace LM-BFF's for one dataset)."""
    overrides: dict[str, dict[int, str]] = {}
    for spec in specs:
        dataset, _, assignment = spec.partition(":")
        label, _, word = assignment.partition("=")
        if dataset not in PATTERNS or not label.strip().lstrip("-").isdigit() or not word.strip():
            raise SystemExit(f"--pattern-word {spec!r}: expected DATASET:LABEL=WORD with DATASET one of "
                             f"{sorted(PATTERNS)}, e.g. trec:2=thing")
        overrides.setdefault(dataset, {})[int(label)] = word.strip()
    return overrides


def build_methods(names: list[str], encoder: str, pattern_model: str | None, dataset: str, iterations: int,
                  head_options: dict | None = None, pattern_options: dict | None = None,
                  pattern_words: dict[int, str] | None = None) -> dict:
    methods = {}
    head_options = head_options or {}
    pattern_options = pattern_options or {}
    for name in names:
        if name == "head":
            methods[recipe_name("head", head_options)] = HeadClassifier(encoder, **head_options)
        elif name == "probe":
            methods[name] = LinearProbe(encoder)
        elif name == "contrastive":
            methods[name] = ContrastiveClassifier(encoder, num_iterations=iterations)
        elif name == "prototype":
            methods[name] = PrototypeClassifier(encoder)
        elif name == "prototype-adapter":
            methods[name] = PrototypeClassifier(encoder, adapter=True)
        elif name in ("pattern", "pattern-zeroshot"):
            if pattern_model is None:
                raise SystemExit(f"--methods {name} needs --pattern-model PATH (a masked LM with its MLM head).")
            template, verbalizer = PATTERNS[dataset]
            verbalizer = {**verbalizer, **(pattern_words or {})}
            if name == "pattern-zeroshot":  # no training: the K-shot sample only names the classes
                methods[name] = PatternClassifier(pattern_model, verbalizer=verbalizer, templates=template, num_epochs=0)
            else:
                methods[recipe_name(name, pattern_options)] = PatternClassifier(
                    pattern_model, verbalizer=verbalizer, templates=template, **pattern_options)
    return methods


def load_splits(name: str, eval_limit: int | None, holdout: float):
    train_split, eval_split = SPLITS[name]
    train = load_benchmark(name, train_split)
    if eval_split is None:  # one-split sets (CR, MR): a seeded held-out share is the evaluation set
        parts = train.train_test_split(test_size=holdout, seed=0, stratify_by_column=None)
        train, evaluation = parts["train"], parts["test"]
    else:
        evaluation = load_benchmark(name, eval_split)
    if eval_limit is not None and eval_limit < len(evaluation):
        evaluation = evaluation.shuffle(seed=0).select(range(eval_limit)).flatten_indices()
    return train, evaluation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["sst2", "trec", "cr"], choices=sorted(SPLITS))
    parser.add_argument("--k", nargs="+", type=int, default=[8, 16, 32, 64], help="examples per class")
    parser.add_argument("--seeds", type=int, default=5, help="data seeds 0..N-1")
    parser.add_argument("--methods", nargs="+", default=["head", "probe", "contrastive", "prototype"], choices=METHODS)
    parser.add_argument("--encoder", default=DEFAULT_PRETRAINED, help="sentence encoder for the non-prompting methods")
    parser.add_argument("--contrastive-iterations", type=int, default=20,
                        help="positive and negative pairs per training example (SetFit's num_iterations)")
    parser.add_argument("--head-learning-rate", type=float, default=None,
                        help="HeadClassifier learning rate (default: the class default, 2e-5)")
    parser.add_argument("--head-epochs", type=int, default=None, help="HeadClassifier epochs (default 10)")
    parser.add_argument("--pattern-model", default=None, help="masked LM (path or hub id) for --methods pattern")
    parser.add_argument("--pattern-learning-rate", type=float, default=None,
                        help="PatternClassifier learning rate (default: the class default, 1e-5)")
    parser.add_argument("--pattern-epochs", type=int, default=None, help="PatternClassifier epochs (default 10)")
    parser.add_argument("--pattern-word", action="append", default=[], metavar="DATASET:LABEL=WORD",
                        help="replace one of LM-BFF's label words, e.g. trec:2=thing when 'entity' is not one "
                             "token in the model's vocabulary (repeatable)")
    parser.add_argument("--eval-limit", type=int, default=None, help="evaluate on a seeded subsample of this size")
    parser.add_argument("--holdout", type=float, default=0.2, help="held-out share for one-split sets (CR, MR)")
    parser.add_argument("--no-flops", action="store_true", help="skip the extra FLOP-counting fit per K")
    parser.add_argument("--output-dir", default="runs/fewshot")
    parser.add_argument("--results", default=None, metavar="JSONL",
                        help="also append this command's runs, with their provenance, to this JSONL file")
    parser.add_argument("--from-runs", nargs="+", default=None, metavar="RUNS_PARQUET",
                        help="report only: merge these runs.parquet tables (no training)")
    args = parser.parse_args()
    if args.from_runs:
        report(args.from_runs, Path(args.output_dir))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("transformers", "httpx", "datasets", "encoders"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    import datasets
    import transformers

    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    print(f"encoder {args.encoder} -> weights at {resolve_model_path(args.encoder)}")
    pattern_words = parse_pattern_words(args.pattern_word)
    head_options = given(learning_rate=args.head_learning_rate, num_epochs=args.head_epochs)
    pattern_options = given(learning_rate=args.pattern_learning_rate, num_epochs=args.pattern_epochs)
    tables = []
    for name in args.datasets:
        train, evaluation = load_splits(name, args.eval_limit, args.holdout)
        print(f"{name}: {len(train)} training pool, {len(evaluation)} evaluation examples")
        methods = build_methods(args.methods, args.encoder, args.pattern_model, name, args.contrastive_iterations,
                                head_options, pattern_options, pattern_words.get(name))
        tables.append(run_benchmark(
            methods, train, k_values=args.k, seeds=args.seeds, eval_dataset=evaluation,
            output_dir=Path(args.output_dir) / name, dataset_name=name, count_flops=not args.no_flops,
        ))
    if args.results:
        append_runs(args.results, pd.concat(tables, ignore_index=True), args)
    summary = summarize_benchmark(pd.concat(tables, ignore_index=True)).reset_index()
    summary["accuracy"] = [f"{100 * m:.1f} ± {100 * s:.1f}" for m, s in zip(summary["accuracy_mean"], summary["accuracy_std"], strict=True)]
    columns = ["dataset", "method", "k", "accuracy", "seeds", *PRICE_COLUMNS]
    print(markdown(summary[columns]))


PRICE_COLUMNS = ["train_seconds", "train_cpu_seconds", "inference_seconds_per_1k", "trainable_parameters",
                 "train_flops", "inference_flops_per_1k"]


def append_runs(path: str, runs: pd.DataFrame, args) -> None:
    """Append the runs this command asked for (its K values and seeds; the output folders may hold others) to
    a JSONL results file, each row with the command's provenance and the evaluation-set settings."""
    # Imported here: the tests load this file as a module without scripts/ on the path, and need no writer.
    from common import append_jsonl, provenance

    mine = runs[runs["k"].isin(args.k) & runs["seed"].isin(range(args.seeds))]
    run = provenance()
    for row in mine.to_dict(orient="records"):
        row = {key: (None if isinstance(value, float) and value != value else value) for key, value in row.items()}
        append_jsonl(path, {**row, "eval_limit": args.eval_limit, "contrastive_iterations": args.contrastive_iterations,
                            "run": run})


def merge_runs(paths: list[str]) -> pd.DataFrame:
    """Concatenate runs.parquet tables; a (dataset, method, K, seed) run present in several keeps the first."""
    missing = [path for path in paths if not Path(path).is_file()]
    if missing:
        raise SystemExit(f"--from-runs: no such file {missing}; pass the runs.parquet files a benchmark wrote.")
    runs = pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True)
    return runs.drop_duplicates(["dataset", "method", "k", "seed"], keep="first").reset_index(drop=True)


def accuracy_table(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """K down, methods across, ``mean ± std (seeds)`` in percent, for one dataset of a summary table."""
    part = summary[summary["dataset"] == dataset]
    cells = part.assign(cell=[f"{100 * m:.1f} ± {100 * s:.1f} ({n})" for m, s, n in
                              zip(part["accuracy_mean"], part["accuracy_std"], part["seeds"], strict=True)])
    table = cells.pivot(index="k", columns="method", values="cell")
    return table[list(dict.fromkeys(part["method"]))].reset_index()


def report(paths: list[str], output_dir: Path) -> None:
    runs = merge_runs(paths)
    summary = summarize_benchmark(runs, output_dir=output_dir).reset_index()
    for dataset in dict.fromkeys(summary["dataset"]):
        n_eval = sorted(runs.loc[runs["dataset"] == dataset, "n_eval"].unique())
        print(f"\n{dataset} (evaluation examples: {', '.join(map(str, n_eval))}), accuracy % mean ± std (seeds)\n")
        print(markdown(accuracy_table(summary, dataset)))
        print(f"\n{dataset}, price tags (means over seeds; FLOPs from the first seed's extra fit)\n")
        print(markdown(summary.loc[summary["dataset"] == dataset, ["method", "k", *PRICE_COLUMNS]]))


def markdown(frame: pd.DataFrame) -> str:
    """A Markdown table (pandas' to_markdown needs the optional tabulate package)."""
    def cell(value) -> str:
        if isinstance(value, float):
            return "–" if value != value else f"{value:.3g}"  # NaN: not measured
        return str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
