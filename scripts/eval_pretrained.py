"""Fine-tune every checkpoint of pretraining runs on downstream tasks; accuracy against pretraining steps.

Reads the run folders written by ``scripts/pretrain_mlm.py`` (``summary.json``, ``tokenizer/``,
``step-N/``), fine-tunes each checkpoint and a no-pretraining baseline (same config, random weights, step 0)
on SST-2 and TREC with several seeds, and writes ``results.csv`` (one row per fine-tuning run),
``summary.md`` (mean ± std table and the steps each strategy needs to reach random masking's final
accuracy) and ``accuracy_vs_steps.png``. With ``--results``, each fine-tuning run is also appended as one JSON row
with its per-example correctness and provenance, for paired comparisons by `make results`.

    PYTHONPATH=. GREENNLP_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 python scripts/eval_pretrained.py \\
        --runs runs/random-s0 runs/content-s0 --tasks sst2 trec --seeds 0 1 --output-dir runs/eval
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from transformers.utils import logging as hf_logging

# private on purpose: the library's one mean ± std (population std, ddof=0), as in its own summaries
from greennlp._results import mean_std
from greennlp.encoders import accuracy, fine_tune, load_benchmark, load_encoder, load_tokenizer

# task -> (train split, evaluation split, number of classes)
TASKS = {"sst2": ("train", "dev", 2), "trec": ("train", "test", 6)}


def finetune(model_source: str, tokenizer, task: str, seed: int, args) -> np.ndarray:
    """Per-example correctness (0/1, evaluation-set order) of one fine-tuning run: ``model_source`` is a
    checkpoint folder or a miniature size."""
    train_split, eval_split, num_labels = TASKS[task]
    train = load_benchmark(task, train_split, limit=args.train_limit, seed=seed)
    evaluation = load_benchmark(task, eval_split)
    model = load_encoder(model_source, num_labels=num_labels, tokenizer=tokenizer, seed=seed)
    with tempfile.TemporaryDirectory() as scratch:
        fine_tune(model, tokenizer, train, scratch, epochs=args.epochs, learning_rate=args.lr, seed=seed,
                  max_length=args.max_length, warmup_steps=0.06)
    return accuracy(model, tokenizer, evaluation, max_length=args.max_length, per_example=True)


def evaluate_runs(args) -> pd.DataFrame:
    rows = []
    done_baselines = set()
    for run in map(Path, args.runs):
        summary = json.loads((run / "summary.json").read_text())
        tokenizer = load_tokenizer(run / "tokenizer")
        sources = [(int(name.split("-")[1]), str(run / name)) for name in summary["checkpoints"]]
        key = (summary["size"], tokenizer.backend_tokenizer.to_str())
        if args.baseline and key not in done_baselines:  # step 0: same config, random weights, once per vocab
            done_baselines.add(key)
            sources = [(0, summary["size"])] + sources
        if args.checkpoint_steps is not None:
            sources = [(step, source) for step, source in sources if step in args.checkpoint_steps]
        for step, source in sources:
            for task in args.tasks:
                for seed in args.seeds:
                    correct = finetune(source, tokenizer, task, seed, args)
                    row = {"run": run.name, "masking": strategy_label(summary) if step else "none",
                           "pretrain_seed": summary["seed"], "step": step,
                           "pretrain_tokens": round(summary["tokens"] * step / summary["total_steps"]),
                           "task": task, "finetune_seed": seed, "accuracy": float(correct.mean())}
                    print(json.dumps(row), flush=True)
                    rows.append(row)
                    if args.results:
                        record_row(args.results, row, correct)
    return pd.DataFrame(rows)


def record_row(path: Path, row: dict, correct) -> None:
    """Append one fine-tuning run to the JSONL results file: the CSV row (its ``run`` renamed ``pretraining_run``),
    per-example correctness on the task's evaluation split, and provenance."""
    from common import append_jsonl, correctness, provenance  # scripts/common.py, on the path when run as a script

    record = {("pretraining_run" if key == "run" else key): value for key, value in row.items()}
    record["correct"] = {row["task"]: correctness(correct)}
    record["run"] = provenance()
    append_jsonl(path, record)


def strategy_label(summary: dict) -> str:
    """The masking strategy as reported: content masking by POS tags (a trained spaCy pipeline) is
    ``content-pos``; by the lexical rule (``--spacy-model blank``) it stays ``content``."""
    if summary["masking"] == "content" and summary.get("spacy_model", "blank") != "blank":
        return "content-pos"
    return summary["masking"]


def steps_to_match(table: pd.DataFrame, task: str, reference: str = "random") -> dict[str, float | None]:
    """First checkpoint step at which each strategy's mean accuracy reaches ``reference``'s final mean, as a
    fraction of ``reference``'s final step (the claim to test is content <= 0.5)."""
    means = table[table.task == task].groupby(["masking", "step"]).accuracy.mean()
    if reference not in means.index.get_level_values(0):
        return {}
    final_step = means[reference].index.max()
    target = means[reference][final_step]
    out = {}
    for masking in means.index.get_level_values(0).unique():
        if masking == "none":
            continue
        reached = [step for step, value in means[masking].items() if step > 0 and value >= target]
        out[masking] = round(float(min(reached)) / float(final_step), 3) if reached else None
    return out


def mean_std_count(values: pd.Series) -> pd.Series:
    """Mean, std and count of a group; the std is the population std (``ddof=0``, as ``numpy.std``), the
    convention of every greennlp summary."""
    mean, std = mean_std(values)
    return pd.Series({"mean": mean, "std": std, "count": len(values)})


def summarise(frame, keys: list[str]) -> pd.DataFrame:
    """``mean``, ``std`` (ddof=0) and ``count`` of ``accuracy`` per group of ``keys``."""
    values = frame if isinstance(frame, pd.Series) else frame["accuracy"]
    grouped = values.groupby(keys).apply(mean_std_count).unstack()
    return grouped.astype({"count": int}).reset_index()


def write_outputs(table: pd.DataFrame, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "results.csv").write_text(table.to_csv(index=False))
    grouped = summarise(table.set_index(["task", "masking", "step"]), ["task", "masking", "step"])
    lines = ["Accuracy mean ± std over fine-tuning runs (population std, ddof=0).", "",
             "| task | masking | step | accuracy mean | std | runs |", "|---|---|---|---|---|---|"]
    for r in grouped.itertuples():
        lines.append(f"| {r.task} | {r.masking} | {r.step} | {r.mean:.3f} | {r.std:.3f} | {r.count} |")
    for task in table.task.unique():
        lines.append(f"\n{task}: steps to reach random masking's final accuracy, as a fraction of random's "
                     f"steps: {steps_to_match(table, task)}")
    lines += pretraining_seed_lines(table)
    (output_dir / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    tasks = list(table.task.unique())
    figure = Figure(figsize=(5 * len(tasks), 3.5))
    axes = figure.subplots(1, len(tasks), squeeze=False)
    for axis, task in zip(axes[0], tasks, strict=True):
        part = grouped[grouped.task == task]
        baseline = part[part.masking == "none"]
        for masking in sorted(set(part.masking) - {"none"}):
            curve = part[part.masking == masking].sort_values("step")
            curve = pd.concat([baseline, curve])
            axis.errorbar(curve.step, curve["mean"], yerr=curve["std"], marker="o", capsize=3, label=masking)
        axis.set(title=task, xlabel="pretraining steps", ylabel="accuracy")
        axis.legend()
    figure.tight_layout()
    figure.savefig(output_dir / "accuracy_vs_steps.png", dpi=120, bbox_inches="tight")


def pretraining_seed_lines(table: pd.DataFrame) -> list[str]:
    """Markdown: the spread over *pretraining* seeds (each seed's mean over its fine-tuning seeds, then mean and
    population std (ddof=0) of those means), and steps-to-match within each pretraining seed (strategies sharing
    a seed share the initial weights and the order of the data)."""
    pretrained = table[table.masking != "none"]
    per_seed = pretrained.groupby(["task", "masking", "step", "pretrain_seed"]).accuracy.mean()
    across = summarise(per_seed, ["task", "masking", "step"])
    lines = ["\nAcross pretraining seeds (mean of each seed's fine-tuning mean; std over pretraining seeds, ddof=0):\n",
             "| task | masking | step | accuracy mean | std over pretraining seeds | pretraining seeds |",
             "|---|---|---|---|---|---|"]
    for r in across.itertuples():
        lines.append(f"| {r.task} | {r.masking} | {r.step} | {r.mean:.3f} | {r.std:.3f} | {r.count} |")
    baseline = table[table.masking == "none"]
    for task in table.task.unique():
        for seed in sorted(pretrained.pretrain_seed.unique()):
            part = pd.concat([baseline, pretrained[pretrained.pretrain_seed == seed]])
            lines.append(f"\n{task}, pretraining seed {seed}: steps to match: {steps_to_match(part, task)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=[], help="run folders written by pretrain_mlm.py")
    parser.add_argument("--from-csv", nargs="+", type=Path, default=[],
                        help="results.csv files of earlier (e.g. parallel) evaluations to merge into this report")
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=["sst2", "trec"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--train-limit", type=int, default=5000, help="fine-tuning examples per task (seeded subset)")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--checkpoint-steps", nargs="+", type=int,
                        help="evaluate only these checkpoint steps (0 = the no-pretraining baseline)")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the step-0 baseline")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/eval"))
    parser.add_argument("--results", type=Path, default=None,
                        help="JSONL file to append each fine-tuning run to, with per-example correctness and "
                        "provenance (e.g. docs/results/masking_<name>.jsonl)")
    args = parser.parse_args()
    hf_logging.set_verbosity_error()  # the "newly initialized classifier" report would repeat for every run
    if not args.runs and not args.from_csv:
        parser.error("pass --runs (fine-tune checkpoints) and/or --from-csv (merge earlier results)")
    tables = [pd.read_csv(path) for path in args.from_csv]
    if args.runs:
        tables.append(evaluate_runs(args))
    write_outputs(pd.concat(tables, ignore_index=True), args.output_dir)


if __name__ == "__main__":
    main()
