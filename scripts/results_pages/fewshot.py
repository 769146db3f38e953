"""docs/results/fewshot.md: which few-shot method at which K, what each costs, and prompting with a tiny masked LM."""
from __future__ import annotations

from functools import partial

import numpy as np

from . import accuracy, compare, difference, flops, mean_std, number, provenance, rows, table, verdict

GRID = "fewshot_grid_runs.parquet"
ADAPTER = "fewshot_adapter_sst2.jsonl"
K8_FULL = "fewshot_sst2_k8_full.jsonl"
DATASETS = {"sst2": "SST-2", "trec": "TREC", "cr": "CR"}
ENCODER_METHODS = {"contrastive": "contrastive (SetFit-style)", "head": "head fine-tuning", "probe": "linear probe",
                   "prototype": "prototypes"}
PATTERN, ZERO_SHOT = "pattern learning_rate=0.0002", "pattern-zeroshot"


def _grid():
    return rows(GRID)


def _cell(frame, **selector) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for key, value in selector.items():
        mask &= (frame[key] == value).to_numpy()
    return frame.loc[mask]


def source(name: str) -> str:
    return provenance(name)


def accuracies(dataset: str) -> str:
    """K down, the four encoder methods across: accuracy mean ± std over data seeds (seeds in brackets)."""
    frame = _grid()
    body = []
    for k in sorted(frame["k"].unique()):
        cells = []
        for method in ENCODER_METHODS:
            part = _cell(frame, dataset=dataset, method=method, k=k)
            cells.append(f"{mean_std(part['accuracy'])} ({len(part)})")
        body.append([k, *cells])
    n_eval = sorted(_cell(frame, dataset=dataset).query("method in @ENCODER_METHODS")["n_eval"].unique())
    return (table(["K", *ENCODER_METHODS.values()], body) +
            f"\n\nAccuracy on {', '.join(map(str, n_eval))} evaluation examples, mean ± population std over data "
            "seeds (number of seeds in brackets).")


def versus(method: str = "contrastive") -> str:
    """``method`` minus each other encoder method, per dataset and K, paired by data seed."""
    frame = _grid()
    others = [m for m in ENCODER_METHODS if m != method]
    body, count, outside = [], 0, 0
    for dataset, label in DATASETS.items():
        for k in sorted(frame["k"].unique()):
            cells = []
            for other in others:
                result = compare(frame, "accuracy", {"dataset": dataset, "method": method, "k": k},
                                 {"dataset": dataset, "method": other, "k": k})
                count += 1
                outside += result.verdict != "level"
                text = f"{difference(result)} ({result.seeds_ahead}/{result.seeds})"
                cells.append(f"**{text}**" if result.verdict != "level" else text)
            body.append([label, k, *cells])
    header = ["dataset", "K", *[f"{ENCODER_METHODS[method]} − {ENCODER_METHODS[o]}" for o in others]]
    return (table(header, body) +
            f"\n\nPoints of accuracy, paired by data seed: mean [95% interval over seeds only; these runs kept no "
            f"per-example predictions, so evaluation-set noise is not in the interval] (seeds ahead). Bold: the "
            f"interval excludes zero. {count} comparisons are in this table; at 95% about {count / 20:.1f} of them "
            f"would exclude zero by chance alone, and {outside} do.")


def claim(dataset: str, k: int, a: str, b: str) -> str:
    """Inline: ``+19.9 [+14.6, +25.2] points, ahead (5/5 seeds)``."""
    result = compare(_grid(), "accuracy", {"dataset": dataset, "method": a, "k": k},
                     {"dataset": dataset, "method": b, "k": k})
    return f"{difference(result)} points, {verdict(result)} ({result.seeds_ahead}/{result.seeds} seeds ahead)"


def price() -> str:
    """Mean train wall and CPU seconds per method and K, and the inference seconds per 1,000 examples."""
    frame = _grid()
    body = []
    for dataset, label in DATASETS.items():
        for k in sorted(frame["k"].unique()):
            cells = []
            for method in ENCODER_METHODS:
                part = _cell(frame, dataset=dataset, method=method, k=k)
                cells.append(f"{_seconds(part['train_seconds'].mean())} ({_seconds(part['train_cpu_seconds'].mean())})")
            inference = _cell(frame, dataset=dataset, k=k).query("method in @ENCODER_METHODS")
            low, high = inference["inference_seconds_per_1k"].min(), inference["inference_seconds_per_1k"].max()
            body.append([label, k, *cells, f"{number(low, 0)}–{number(high, 0)}"])
    return (table(["dataset", "K", *[f"{m}: train wall s (CPU s)" for m in ENCODER_METHODS.values()],
                   "inference s / 1k, every method"], body) +
            "\n\nMeans over the data seeds. Wall seconds on one core each (two benchmark processes side by side); CPU "
            "seconds are the process's CPU time. Inference is one pass of the same encoder for all four methods.")


def _seconds(value: float) -> str:
    return number(value, 1) if value < 10 else number(value, 0)


def trainable() -> str:
    frame = _grid()
    body = [[ENCODER_METHODS[m], f"{int(_cell(frame, method=m)['trainable_parameters'].iloc[0]):,}"]
            for m in ENCODER_METHODS]
    return table(["method", "trainable parameters"], body)


def flop_table() -> str:
    """Train FLOPs per method and K from the FLOP-counting fit of the first seed (CR; TREC at K = 8), with the
    inference FLOPs per 1,000 examples, and how many examples' inference one training costs."""
    frame = _grid()
    measured = frame[frame["train_flops"].notna()]
    body = []
    for dataset in ("cr", "trec"):
        for k in sorted(_cell(measured, dataset=dataset)["k"].unique()):
            part = _cell(measured, dataset=dataset, k=k).set_index("method")
            inference = float(part["inference_flops_per_1k"].mean())
            cells = [f"{flops(part.loc[m, 'train_flops'])} ({1000 * part.loc[m, 'train_flops'] / inference:,.0f})"
                     for m in ENCODER_METHODS]
            body.append([DATASETS[dataset], k, *cells, flops(inference)])
    return (table(["dataset", "K", *[f"{m} train" for m in ENCODER_METHODS.values()], "inference per 1k examples"],
                  body) +
            "\n\nFLOPs from `torch.utils.flop_counter` (as `BudgetCallback` counts them) on one extra, untimed fit of "
            "the first data seed (a multiply-add is 2 FLOPs; the scikit-learn heads are not counted). In brackets: the training run's FLOPs as a number "
            "of examples classified (train FLOPs / inference FLOPs per example). Only CR, and TREC at K = 8, were run "
            "with FLOP counting.")


def pattern() -> str:
    """Pattern fine-tuning and zero-shot per dataset and K, and few-shot minus zero-shot paired by seed."""
    frame = _grid()
    body, count, outside = [], 0, 0
    for dataset, label in DATASETS.items():
        for k in sorted(frame["k"].unique()):
            tuned = _cell(frame, dataset=dataset, method=PATTERN, k=k)
            zero = _cell(frame, dataset=dataset, method=ZERO_SHOT, k=k)
            result = compare(frame, "accuracy", {"dataset": dataset, "method": PATTERN, "k": k},
                             {"dataset": dataset, "method": ZERO_SHOT, "k": k})
            count += 1
            outside += result.verdict != "level"
            text = f"{difference(result)} ({result.seeds_ahead}/{result.seeds})"
            body.append([label, int(tuned["n_eval"].iloc[0]), k, mean_std(tuned["accuracy"]),
                         mean_std(zero["accuracy"]), f"**{text}**" if result.verdict != "level" else text,
                         f"{_seconds(tuned['train_cpu_seconds'].mean())}",
                         f"{_seconds(tuned['inference_seconds_per_1k'].mean())}"])
    return (table(["dataset", "evaluation examples", "K", "pattern fine-tuning", "zero-shot",
                   "fine-tuned − zero-shot", "train CPU s", "inference s / 1k"], body) +
            f"\n\nMean ± population std over 5 data seeds; differences in points paired by seed [95% interval over "
            f"seeds only] (seeds ahead), bold where the interval excludes zero ({count} comparisons; about "
            f"{count / 20:.1f} would exclude zero by chance, {outside} do). Zero-shot trains nothing, so its seeds "
            "agree. Three processes shared the two cores during these runs: CPU seconds are the figure to read.")


def adapter() -> str:
    """Plain prototypes against prototypes + adapter, per K, paired by seed."""
    frame = rows(ADAPTER)
    body = []
    ks = sorted(frame["k"].unique())
    for k in ks:
        plain = _cell(frame, method="prototype", k=k)
        adapted = _cell(frame, method="prototype-adapter", k=k)
        result = compare(frame, "accuracy", {"method": "prototype-adapter", "k": k}, {"method": "prototype", "k": k})
        text = f"{difference(result)} ({result.seeds_ahead}/{result.seeds})"
        body.append([k, mean_std(plain["accuracy"]), mean_std(adapted["accuracy"]),
                     f"**{text}**" if result.verdict != "level" else text,
                     f"{_seconds(plain['train_cpu_seconds'].mean())} / {_seconds(adapted['train_cpu_seconds'].mean())}"])
    parameters = int(_cell(frame, method="prototype-adapter")["trainable_parameters"].iloc[0])
    return (table(["K", "prototypes", "prototypes + adapter", "adapter − plain", "train CPU s (plain / adapter)"],
                  body) +
            f"\n\nSST-2, {int(frame['n_eval'].iloc[0])} dev sentences; mean ± population std over "
            f"{frame['seed'].nunique()} data seeds; differences in points paired by seed [95% interval over seeds "
            f"only] (seeds ahead), {len(ks)} comparisons, bold where the interval excludes zero. The adapter trains "
            f"{parameters:,} parameters.")



def k8_full() -> str:
    """SST-2, K = 8, library defaults, full dev set: accuracy per method with its seeds, and the price."""
    frame = rows(K8_FULL)
    seeds = sorted(frame["seed"].unique())
    body = []
    for method, label in ENCODER_METHODS.items():
        part = _cell(frame, method=method).set_index("seed").sort_index()
        body.append([label, mean_std(part["accuracy"]), " / ".join(accuracy(v) for v in part["accuracy"]),
                     f"{_seconds(part['train_seconds'].mean())} ({_seconds(part['train_cpu_seconds'].mean())})",
                     _seconds(part["inference_seconds_per_1k"].mean())])
    return (table(["method", "accuracy", f"per seed ({', '.join(map(str, seeds))})", "train wall s (CPU s)",
                   "inference s / 1k"], body) +
            f"\n\n{int(frame['n_eval'].iloc[0])} dev sentences; mean ± population std over {len(seeds)} data seeds; "
            "times are means over the seeds.")


def k8_full_target() -> str:
    """Inline: contrastive minus head on the full dev set, and whether the project's +10-point target is met."""
    frame = rows(K8_FULL)
    result = compare(frame, "accuracy", {"method": "contrastive"}, {"method": "head"})
    if result.low * 100 >= 10:
        met = "the +10-point target is met (the whole interval is above it)"
    elif result.high * 100 < 10:
        met = "short of the +10-point target (the whole interval is below it)"
    else:
        met = "the +10-point target is inside the interval: neither met nor missed at this number of seeds"
    return f"{difference(result)} points ({result.seeds_ahead}/{result.seeds} seeds ahead); {met}"


def k8_full_speed() -> str:
    """Inline: the contrastive training time per seed, and whether every seed met the one-minute target."""
    part = _cell(rows(K8_FULL), method="contrastive")
    slowest = part["train_seconds"].max()
    met = "every seed under the one-minute target" if slowest < 60 else "over the one-minute target in " \
        f"{int((part['train_seconds'] >= 60).sum())} of {len(part)} seeds"
    return (f"{number(part['train_seconds'].min(), 1)}–{number(slowest, 1)} s wall "
            f"({number(part['train_cpu_seconds'].min(), 1)}–{number(part['train_cpu_seconds'].max(), 1)} s CPU) per "
            f"seed, {met}")


FIGURES = {"grid.source": partial(source, GRID), "grid.versus": versus, "grid.price": price,
           "grid.trainable": trainable, "grid.flops": flop_table, "grid.pattern": pattern}
for _dataset in DATASETS:
    FIGURES[f"grid.{_dataset}"] = partial(accuracies, _dataset)
for _dataset, _k in (("trec", 8), ("trec", 64), ("cr", 8), ("cr", 64), ("sst2", 8), ("sst2", 64)):
    FIGURES[f"grid.contrastive_vs_head.{_dataset}.{_k}"] = partial(claim, _dataset, _k, "contrastive", "head")
FIGURES.update({"adapter.source": partial(source, ADAPTER), "adapter.table": adapter,
                "k8_full.source": partial(source, K8_FULL), "k8_full.table": k8_full,
                "k8_full.target": k8_full_target, "k8_full.speed": k8_full_speed})
