"""docs/results/cartography.md: which third of the data to train on, what it costs with its map, label errors."""
from __future__ import annotations

from functools import partial

import numpy as np

from greennlp.budgets import paired_difference

from . import (
    RESULTS,
    _wrap_command,
    accuracy,
    compare,
    difference,
    flops,
    mean_std,
    number,
    provenance,
    ratio,
    rows,
    table,
    verdict,
    wrap,
)

LABELS = {"100%": "100%", "ambiguous": "ambiguous", "random": "random", "coverage": "coverage (CCS)",
          "ambiguous+easy": "ambiguous + 25% easy", "easy-to-learn": "easy-to-learn", "hard-to-learn": "hard-to-learn"}
MAP_CHOSEN = {"ambiguous", "coverage", "ambiguous+easy", "easy-to-learn", "hard-to-learn"}

#: raw file -> evaluation columns and their headers
EXPERIMENTS = {
    "sst2_10k": ("cartography_sst2_10k_minilm.jsonl",
                 {"sst2-dev": "SST-2 dev", "imdb": "IMDB", "cr": "CR", "validation": "validation"}),
    "sst2_full": ("cartography_sst2_full_minilm.jsonl", {"sst2-dev": "SST-2 dev", "imdb": "IMDB", "cr": "CR"}),
    "imdb6k": ("cartography_imdb6k_minilm.jsonl", {"imdb-test": "IMDB test", "sst2": "SST-2 dev", "cr": "CR"}),
    "sst2_1500": ("cartography_sst2_minilm.jsonl", {"sst2-dev": "SST-2 dev", "imdb": "IMDB", "cr": "CR"}),
    "sst2_tiny": ("cartography_sst2_tiny.jsonl", {"sst2-dev": "SST-2 dev", "imdb": "IMDB", "cr": "CR"}),
}


def _price(frame, subset: str) -> float:
    """Mean over seeds of the subset's training time plus, for a map-chosen subset, the map's run, as a multiple
    of the 100% run (which is itself the map's run). FLOPs when the rows have them, else seconds."""
    column = "train_flops" if "train_flops" in frame.columns else "train_seconds"
    full = frame[frame.subset == "100%"].set_index("seed")[column]
    own = frame[frame.subset == subset].set_index("seed")[column]
    total = own + (full.reindex(own.index) if subset in MAP_CHOSEN else 0)
    return float((total / full.reindex(own.index)).mean())


def subsets(experiment: str) -> str:
    """Mean ± std over seeds per subset and evaluation set, with the subset's whole price."""
    name, metrics = EXPERIMENTS[experiment]
    frame = rows(name)
    body = []
    for subset in dict.fromkeys(frame["subset"]):
        part = frame[frame.subset == subset]
        size = int(part["size"].iloc[0])
        body.append([LABELS[subset], f"{size:,}", *[mean_std(part[m]) for m in metrics],
                     ratio(_price(frame, subset))])
    unit = "FLOPs" if "train_flops" in frame.columns else "time"
    header = ["subset", "examples", *metrics.values(), f"price ({unit}, map included) vs 100%"]
    seeds = sorted(frame["seed"].unique())
    return table(header, body) + "\n\n" + wrap(
        f"Mean ± population std over seeds {', '.join(map(str, seeds))}. The price of a map-chosen third adds the "
        "100% run that recorded its map; random needs no map.")


def differences(experiment: str, baseline: str = "random") -> str:
    """Each subset minus ``baseline``, paired by seed: mean in points [95% interval], seeds ahead."""
    name, metrics = EXPERIMENTS[experiment]
    frame = rows(name)
    body, count, outside = [], 0, 0
    for subset in dict.fromkeys(frame["subset"]):
        if subset == baseline:
            continue
        cells = []
        for metric in metrics:
            result = compare(frame, metric, {"subset": subset}, {"subset": baseline})
            count += 1
            outside += result.verdict != "level"
            text = f"{difference(result)} ({result.seeds_ahead}/{result.seeds})"
            cells.append(f"**{text}**" if result.verdict != "level" else text)
        body.append([LABELS[subset], *cells])
    per_example = "correct" in frame.columns
    scope = ("evaluation examples and seeds" if per_example else
             "seeds only (these runs kept no per-example results, so evaluation-set noise is not in the interval)")
    return (table(["subset", *metrics.values()], body) + "\n\n" + wrap(
            f"Points of accuracy minus {baseline}, paired by seed: mean [95% interval over {scope}] (seeds "
            f"ahead). Bold: the interval excludes zero. {count} comparisons are in this table; with 95% intervals "
            f"about {count / 20:.1f} of them would exclude zero by chance alone, and {outside} do."))


def claim(experiment: str, subset: str, baseline: str, metric: str) -> str:
    """Inline: ``+0.3 [−0.1, +0.7] points, level (3/3 seeds ahead)``."""
    name, _ = EXPERIMENTS[experiment]
    result = compare(rows(name), metric, {"subset": subset}, {"subset": baseline})
    return f"{difference(result)} points, {verdict(result)} ({result.seeds_ahead}/{result.seeds} seeds ahead)"


def value(experiment: str, subset: str, metric: str) -> str:
    name, _ = EXPERIMENTS[experiment]
    frame = rows(name)
    return accuracy(float(np.mean(frame.loc[frame.subset == subset, metric])))


def source(experiment: str) -> str:
    return provenance(EXPERIMENTS[experiment][0])


FIGURES = {}
for _experiment in EXPERIMENTS:
    FIGURES[f"{_experiment}.source"] = partial(source, _experiment)
    FIGURES[f"{_experiment}.subsets"] = partial(subsets, _experiment)
    FIGURES[f"{_experiment}.vs_random"] = partial(differences, _experiment)
FIGURES["sst2_full.vs_full"] = partial(differences, "sst2_full", "100%")
FIGURES["sst2_10k.vs_full"] = partial(differences, "sst2_10k", "100%")
FIGURES["imdb6k.vs_full"] = partial(differences, "imdb6k", "100%")


#: The claim of Swayamdipta et al. (2020) that the README tests: the most ambiguous third matches all the data in
#: domain (here: its difference from all the data has an interval entirely above -1 point) and beats it out of
#: domain (ahead on at least one out-of-domain set, behind on none). Tested on the experiment whose rows hold
#: per-example results (intervals over evaluation examples and seeds).
CLAIM_EXPERIMENT = "sst2_10k"
#: columns that are not an evaluation of the claim (the validation split chooses, it does not test)
NOT_EVALUATION = {"validation"}


def _claim_parts(experiment: str = CLAIM_EXPERIMENT):
    name, metrics = EXPERIMENTS[experiment]
    metrics = {k: v for k, v in metrics.items() if k not in NOT_EVALUATION}
    frame = rows(name)
    in_domain, *out_of_domain = metrics
    near = compare(frame, in_domain, {"subset": "ambiguous"}, {"subset": "100%"})
    away = {m: compare(frame, m, {"subset": "ambiguous"}, {"subset": "100%"}) for m in out_of_domain}
    return metrics, near, away, _price(frame, "ambiguous")


def claim_evidence() -> str:
    metrics, near, away, price = _claim_parts()
    size = int(rows(EXPERIMENTS[CLAIM_EXPERIMENT][0]).query("subset == '100%'")["size"].iloc[0])
    outside = "; ".join(f"{metrics[m]} {difference(r)}" for m, r in away.items())
    return (f"ambiguous third of {size:,} SST-2 sentences minus all of them: in domain "
            f"({metrics[next(iter(metrics))]}) {difference(near)}; out of domain {outside}; price with its map "
            f"{ratio(price)} all the data")


def claim_verdict() -> str:
    _, near, away, _ = _claim_parts()
    close = near.low * 100 >= -1
    better = any(r.verdict == "ahead" for r in away.values()) and not any(r.verdict == "behind" for r in away.values())
    return "holds" if close and better else "holds in part" if close or better else "not shown"


def chosen_on_validation(experiment: str = "sst2_10k", test: str = "sst2-dev") -> str:
    """The third a user would pick without looking at the test sets: the subset (other than 100%) with the highest
    mean validation accuracy, and how it does on ``test`` against a random third and against all the data."""
    name, metrics = EXPERIMENTS[experiment]
    frame = rows(name)
    thirds = frame[frame.subset != "100%"]
    means = thirds.groupby("subset", sort=False)["validation"].mean()
    best = str(means.idxmax())
    ranking = ", ".join(f"{LABELS[s]} {accuracy(v)}" for s, v in means.sort_values(ascending=False).items())
    parts = []
    for baseline in ("random", "100%"):
        if baseline == best:
            continue
        result = compare(frame, test, {"subset": best}, {"subset": baseline})
        parts.append(f"{difference(result)} points against {'a random third' if baseline == 'random' else 'all the data'} "
                     f"({verdict(result)})")
    return wrap(f"Chosen on the validation split (mean validation accuracy: {ranking}): **{LABELS[best]}**. On "
                f"{metrics[test]} it scores " + " and ".join(parts) + ".")


FIGURES["sst2_10k.chosen"] = chosen_on_validation


FIGURES["claim"] = claim_evidence
FIGURES["verdict"] = claim_verdict


# --- label errors -----------------------------------------------------------------------------------------------
LABEL_ERRORS = "label_errors_sst2_minilm.jsonl"


def _label_error_rows():
    frame = rows(LABEL_ERRORS)
    settings = frame.iloc[0]
    return frame, settings


def label_errors_table() -> str:
    """Precision, recall, flags and price per method, mean ± std over seeds."""
    frame, _ = _label_error_rows()
    body = []
    for method, part in frame.groupby("method", sort=False):
        body.append([method, int(part["trainings"].iloc[0]), mean_std(part["precision"]), mean_std(part["recall"]),
                     f"{part['flagged'].mean():.0f}", flops(part["train_flops"].mean()),
                     f"{part['wall_seconds'].mean():.0f}"])
    seeds = sorted(frame["seed"].unique())
    return table(["method", "trainings", "precision", "recall", "flagged", "training FLOPs", "wall s"], body) + \
        "\n\n" + wrap(f"Mean ± population std over seeds {', '.join(map(str, seeds))}. FLOPs count training only; "
                      "wall time includes cleanlab's predictions on the held-out folds.")


def _found(frame, method: str) -> dict:
    part = frame[frame["method"] == method].set_index("seed").sort_index()
    return {seed: part.loc[seed, "found"] for seed in part.index}


def label_errors_versus() -> str:
    """Recall of each map-based method minus cleanlab's top k, paired over seeds and flipped labels."""
    frame, _ = _label_error_rows()
    reference = "cleanlab (top k)"
    body = []
    for method in dict.fromkeys(frame["method"]):
        if method in (reference, "cleanlab (its own flags)"):
            continue
        result = paired_difference(_found(frame, method), _found(frame, reference))
        price = frame.loc[frame.method == method, "train_flops"].mean() / \
            frame.loc[frame.method == reference, "train_flops"].mean()
        body.append([method, difference(result), f"{result.seeds_ahead}/{result.seeds}", verdict(result),
                     ratio(price)])
    return table(["method", f"recall minus {reference} (points)", "seeds ahead", "verdict", "price vs cleanlab"],
                 body) + "\n\n" + wrap(
        "Each seed has its own sample and flips, so the interval resamples the flipped labels and the seeds; "
        f"{len(body)} comparisons.")


def label_errors_source() -> str:
    return provenance(LABEL_ERRORS)


FIGURES["label_errors.source"] = label_errors_source
FIGURES["label_errors.table"] = label_errors_table
FIGURES["label_errors.versus"] = label_errors_versus


# --- what recording costs ---------------------------------------------------------------------------------------
def memory_table() -> str:
    """Peak resident memory above the baseline while recording, and while loading the recorded map."""
    row = rows("datamap_memory.jsonl").iloc[-1]
    return table(["what", "peak above baseline"], [
        [f"recording {int(row['examples']):,} examples × {int(row['epochs'])} epochs", f"+{row['recording_mb']:.0f} MB"],
        ["`DataMap.load` of that map", f"+{row['loading_mb']:.0f} MB"]])


FIGURES["memory.source"] = lambda: provenance("datamap_memory.jsonl")
FIGURES["memory.table"] = memory_table


OVERHEAD = "datamap_overhead.jsonl"


def _commands(name: str) -> str:
    """One bash block with every distinct command of the raw file's rows, in order."""
    commands = list(dict.fromkeys(run["command"] for run in rows(name)["run"]))
    return "```bash\n" + "\n".join(_wrap_command(c) for c in commands) + "\n```\n\n"


def overhead_table() -> str:
    """Trainer.train() time with DataMapCallback over time without it, per model and mode: median of per-round
    ratios (runs alternated), wall clock and the process's CPU time."""
    body = []
    for _, row in rows(OVERHEAD).iterrows():
        base = [t[0] for t in row["seconds"]["none"]]
        body.append([row["model"], f"{int(row['examples']):,} × {number(row['epochs'], 0)}", int(row["rounds"]),
                     f"{np.median(base):.1f} s", ratio(row["train_wall"], 2), ratio(row["train_cpu"], 2),
                     ratio(row["eval_wall"], 2), ratio(row["eval_cpu"], 2)])
    return table(["model", "examples × epochs", "rounds", "training without the callback (median)",
                  "train mode: wall", "train mode: CPU", "eval mode: wall", "eval mode: CPU"], body) + "\n\n" + wrap(
        "Ratios are the median over rounds of (time with the callback) / (time without it); the runs of each round "
        "alternate (without, train mode, eval mode), same seed and data. Train mode reads the logits of the "
        "training forward pass; eval mode adds one clean forward pass over the training set per epoch.")


if (RESULTS / OVERHEAD).exists():  # placed once its rows exist
    FIGURES["overhead.source"] = lambda: _commands(OVERHEAD) + provenance(OVERHEAD, command=False)
    FIGURES["overhead.table"] = overhead_table
