"""docs/results/inference.md: early exit with its threshold chosen on validation and reported on test, and the
compression methods (int8, distilled students, LayerDrop, head pruning) side by side, with what each costs.

Run as ``cd scripts && python -m results_pages.inference`` to redraw the compression plot from its raw rows."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from greennlp.budgets import paired_difference

from . import RESULTS, accuracy, difference, flops, mean_std, number, provenance, ratio, rows, table, verdict

EARLY_EXIT = "early_exit_sst2_minilm.jsonl"
COMPRESSION = "compression_sst2_minilm.jsonl"
FULL_THRESHOLD = 1.0  # runs every layer: the full model's row
WITHIN = 0.01  # the threshold rule: validation accuracy at least the full model's minus this
CLAIM_SPEEDUP, PART_SPEEDUP, CLAIM_LOSS = 3.0, 1.5, -1.0  # the verdict rule (speed-ups, points of accuracy)
FULL = "full model"
#: rows of one architecture (int8 weights, the teacher's first 4 layers): their spread of speed-ups is timing noise
SAME_ARCHITECTURE = ("int8 + first 4 layers, distilled", "int8 + first 4 layers, distilled + 16,000 unlabelled",
                     "int8 + first 4 layers, labels only")


# --- early exit -------------------------------------------------------------------------------------------------
def _early_exit():
    """The raw rows of the seeds that are complete (every threshold on both splits)."""
    frame = rows(EARLY_EXIT)
    thresholds = frame["threshold"].nunique()
    counts = frame.groupby("seed").size()
    complete = sorted(int(s) for s, n in counts.items() if n == 2 * thresholds)
    if not complete:
        raise ValueError(f"{EARLY_EXIT} holds no complete seed (each needs {2 * thresholds} rows).")
    return frame[frame.seed.isin(complete)], complete


def _seeds(count: int) -> str:
    return f"{count} seed{'s' if count != 1 else ''}"


def _row(frame, seed: int, split: str, threshold: float):
    chosen = frame[(frame.seed == seed) & (frame.split == split) & np.isclose(frame.threshold, threshold)]
    if len(chosen) != 1:
        raise ValueError(f"{EARLY_EXIT}: {len(chosen)} rows for seed {seed}, {split}, threshold {threshold}.")
    return chosen.iloc[0]


def chosen_thresholds(frame, seeds) -> dict[int, float]:
    """Per seed, the rule fixed before looking at test: the lowest threshold whose validation accuracy is at least
    the full model's (threshold 1.0) validation accuracy minus 1 point."""
    chosen = {}
    for seed in seeds:
        validation = frame[(frame.seed == seed) & (frame.split == "validation")]
        floor = _row(frame, seed, "validation", FULL_THRESHOLD)["accuracy"] - WITHIN - 1e-9
        chosen[seed] = float(validation.loc[validation.accuracy >= floor, "threshold"].min())
    return chosen


def _per_seed():
    """Per seed: the chosen threshold, its validation and test rows and the full model's."""
    frame, seeds = _early_exit()
    thresholds = chosen_thresholds(frame, seeds)
    return [{"seed": s, "threshold": thresholds[s],
             "validation": _row(frame, s, "validation", thresholds[s]),
             "validation_full": _row(frame, s, "validation", FULL_THRESHOLD),
             "test": _row(frame, s, "test", thresholds[s]), "test_full": _row(frame, s, "test", FULL_THRESHOLD)}
            for s in seeds]


def _chosen_difference(per_seed):
    """Test accuracy at each seed's chosen threshold minus the full model's, paired by seed and test example."""
    return paired_difference({p["seed"]: p["test"]["correct"] for p in per_seed},
                             {p["seed"]: p["test_full"]["correct"] for p in per_seed})


def _speedups(per_seed) -> tuple[np.ndarray, np.ndarray]:
    flops_ratio = np.array([p["test_full"]["flops_per_example"] / p["test"]["flops_per_example"] for p in per_seed])
    speedup = np.array([p["test_full"]["ms_per_example"] / p["test"]["ms_per_example"] for p in per_seed])
    return flops_ratio, speedup


def early_exit_source() -> str:
    _, seeds = _early_exit()
    return provenance(EARLY_EXIT) + f" Seeds: {', '.join(map(str, seeds))}."


def early_exit_chosen() -> str:
    """One row per seed at its chosen threshold, then the mean over seeds."""
    per_seed = _per_seed()
    flops_ratio, speedup = _speedups(per_seed)
    body = []
    for p, f, s in zip(per_seed, flops_ratio, speedup, strict=True):
        one = paired_difference(p["test"]["correct"], p["test_full"]["correct"])
        body.append([p["seed"], f"{p['threshold']:g}", accuracy(p["validation_full"]["accuracy"]),
                     accuracy(p["validation"]["accuracy"]), accuracy(p["test_full"]["accuracy"]),
                     accuracy(p["test"]["accuracy"]), difference(one), number(p["test"]["mean_layers"], 2), ratio(f),
                     ratio(s)])
    result = _chosen_difference(per_seed)
    body.append([f"**mean of {len(per_seed)}**", "", mean_std([p["validation_full"]["accuracy"] for p in per_seed]),
                 mean_std([p["validation"]["accuracy"] for p in per_seed]),
                 mean_std([p["test_full"]["accuracy"] for p in per_seed]),
                 mean_std([p["test"]["accuracy"] for p in per_seed]), f"**{difference(result)}**",
                 number(np.mean([p["test"]["mean_layers"] for p in per_seed]), 2), f"**{ratio(flops_ratio.mean())}**",
                 f"**{ratio(speedup.mean())}**"])
    header = ["seed", "chosen threshold", "validation: full model", "validation: chosen", "test: full model",
              "test: chosen", "Δ test points [95% interval]", "mean layers (test)", "FLOPs ratio", "speed-up"]
    return (table(header, body) + "\n\nΔ: test accuracy at the chosen threshold minus the full model's, in points; "
            "per seed the interval covers the test examples, in the mean row the test examples and the seeds "
            "(paired by seed and example). FLOPs ratio and speed-up: the full model's FLOPs and ms per test "
            "example over the chosen threshold's, in the same run; the mean row averages the seeds' ratios. "
            "Mean ± population std over seeds.")


def early_exit_claim() -> str:
    """Inline: ``1.9x fewer FLOPs, 1.8x faster, −0.2 [−0.6, +0.2] points (level), threshold chosen on validation``."""
    per_seed = _per_seed()
    flops_ratio, speedup = _speedups(per_seed)
    result = _chosen_difference(per_seed)
    return (f"{ratio(flops_ratio.mean(), 1)} fewer FLOPs, {ratio(speedup.mean(), 1)} faster, {difference(result)} "
            f"points ({verdict(result)}), threshold chosen on validation ({_seeds(len(per_seed))})")


def early_exit_verdict() -> str:
    """``holds`` (speed-up ≥ 3x, interval above −1 point), ``holds in part`` (≥ 1.5x, same interval), else
    ``not shown``."""
    per_seed = _per_seed()
    _, speedup = _speedups(per_seed)
    low = 100 * _chosen_difference(per_seed).low
    if speedup.mean() >= CLAIM_SPEEDUP and low > CLAIM_LOSS:
        return "holds"
    if speedup.mean() >= PART_SPEEDUP and low > CLAIM_LOSS:
        return "holds in part"
    return "not shown"


def early_exit_thresholds() -> str:
    """Every threshold on test, mean over seeds: for transparency, not for choosing."""
    frame, seeds = _early_exit()
    test = frame[frame.split == "test"]
    full = test[np.isclose(test.threshold, FULL_THRESHOLD)].set_index("seed")
    body = []
    for threshold in sorted(test["threshold"].unique(), reverse=True):
        part = test[np.isclose(test.threshold, threshold)].set_index("seed").loc[seeds]
        validation = frame[(frame.split == "validation") & np.isclose(frame.threshold, threshold)]
        cells = ["1.0 (full model)" if threshold == FULL_THRESHOLD else f"{threshold:g}",
                 mean_std(validation["accuracy"]), number(validation["mean_layers"].mean(), 2),
                 mean_std(part["accuracy"])]
        if threshold == FULL_THRESHOLD:
            cells.append("0")
        else:
            result = paired_difference({s: part.loc[s, "correct"] for s in seeds},
                                       {s: full.loc[s, "correct"] for s in seeds})
            cells.append(difference(result))
        cells += [number(part["mean_layers"].mean(), 2), number(part["flops_per_example"].mean() / 1e9, 3),
                  number(part["ms_per_example"].mean(), 2),
                  ratio((full.loc[seeds, "flops_per_example"] / part["flops_per_example"]).mean()),
                  ratio((full.loc[seeds, "ms_per_example"] / part["ms_per_example"]).mean())]
        body.append(cells)
    header = ["exit when confidence >", "validation accuracy", "validation mean layers", "test accuracy",
              "Δ test points [95% interval]", "test mean layers", "GFLOPs / example", "ms / example", "FLOPs ratio", "speed-up"]
    return (table(header, body) + f"\n\nEvery threshold tried ({len(body) - 1} besides the full model), mean over "
            f"{_seeds(len(seeds))}; every column after the validation ones is on test. Shown for transparency only: "
            "a threshold picked from the test columns would be chosen on the split it is scored on; the result above "
            "uses the threshold each seed chose on validation.")


def early_exit_on_test() -> str:
    """Inline: the fastest threshold whose test interval lies above −1 point, i.e. chosen on test itself: an upper
    bound on what the rule could have found, not a result."""
    frame, seeds = _early_exit()
    test = frame[frame.split == "test"]
    full = test[np.isclose(test.threshold, FULL_THRESHOLD)].set_index("seed").loc[seeds]
    best = None
    for threshold in sorted(test["threshold"].unique()):
        if threshold == FULL_THRESHOLD:
            continue
        part = test[np.isclose(test.threshold, threshold)].set_index("seed").loc[seeds]
        result = paired_difference({s: part.loc[s, "correct"] for s in seeds},
                                   {s: full.loc[s, "correct"] for s in seeds})
        speedup = float((full["ms_per_example"] / part["ms_per_example"]).mean())
        if 100 * result.low > CLAIM_LOSS and (best is None or speedup > best[1]):
            best = (threshold, speedup, float((full["flops_per_example"] / part["flops_per_example"]).mean()), result)
    if best is None:
        return "no threshold tried keeps its test interval above −1 point"
    threshold, speedup, flops_ratio, result = best
    side = "at least" if speedup >= CLAIM_SPEEDUP else "short of"
    return (f"threshold {threshold:g}: {ratio(speedup, 1)} faster, {ratio(flops_ratio, 1)} fewer FLOPs, "
            f"{difference(result)} points, {side} the claim's {CLAIM_SPEEDUP:g}x")


def early_exit_seeds_losing() -> str:
    """Inline: ``2 of 3``, the seeds whose chosen threshold lost more than 1 point on test (mean over examples)."""
    per_seed = _per_seed()
    losing = sum(100 * (np.mean(p["test"]["correct"]) - np.mean(p["test_full"]["correct"])) < CLAIM_LOSS
                 for p in per_seed)
    return f"{losing} of {len(per_seed)}"


def early_exit_exits() -> str:
    """Each exit alone on test and its fitted temperature, mean ± std over seeds."""
    frame, seeds = _early_exit()
    first = frame.drop_duplicates("seed").set_index("seed").loc[seeds]
    alone = np.array(first["exit_test_accuracy"].tolist())
    temperatures = np.array(first["temperatures"].tolist())
    header = ["", *[f"layer {i + 1}" for i in range(alone.shape[1])]]
    body = [["test accuracy of the exit alone", *[mean_std(alone[:, i]) for i in range(alone.shape[1])]],
            ["fitted temperature", *[f"{temperatures[:, i].mean():.2f} ± {temperatures[:, i].std():.2f}"
                                     for i in range(temperatures.shape[1])]]]
    return table(header, body) + f"\n\nMean ± population std over {_seeds(len(seeds))}."


def _payback(extra: float, saved: float) -> str:
    """Examples after which ``extra`` (FLOPs or seconds) is paid back by ``saved`` per example."""
    if saved <= 0:
        return "never (no saving)"
    examples = extra / saved
    return f"{float(f'{examples:.2g}'):,.0f}" if examples >= 1 else "under 1"


def early_exit_price() -> str:
    """Per seed: the joint training, the calibration and the threshold's choice, and when the last two pay back in
    FLOPs saved per example at the chosen threshold."""
    frame, _ = _early_exit()
    body = []
    for p in _per_seed():
        row, full = p["test"], p["test_full"]
        validation = frame[(frame.seed == p["seed"]) & (frame.split == "validation")]
        # choosing the threshold runs predict once per threshold over the validation sentences
        choice = float((validation["flops_per_example"] * validation["examples"]).sum())
        saved = full["flops_per_example"] - row["flops_per_example"]
        body.append([p["seed"], flops(row["train_flops"]), f"{row['train_seconds']:,.0f}",
                     flops(row["calibration_flops"]), flops(choice),
                     flops(row["train_flops"] + row["calibration_flops"] + choice), flops(saved),
                     _payback(row["calibration_flops"], saved), _payback(row["calibration_flops"] + choice, saved)])
    header = ["seed", "joint training FLOPs", "training + calibration s", "calibration FLOPs",
              "choosing the threshold FLOPs", "total FLOPs", "FLOPs saved per test example",
              "calibration pays back after (examples)", "calibration + choice pay back after (examples)"]
    return (table(header, body) + "\n\nTraining FLOPs are measured by `BudgetCallback` (FlopCounterMode on sampled "
            "optimizer steps). Calibration runs every exit once over its sentences; choosing the threshold runs "
            "`predict` at every threshold over the validation sentences. FLOPs saved: the full model's FLOPs per "
            "test example minus the chosen threshold's. Training seconds are wall time on the shared 2-core CPU "
            "and include calibration.")


# --- compression ------------------------------------------------------------------------------------------------
def _compression():
    frame = rows(COMPRESSION).set_index("setup", drop=False)
    if frame.index.has_duplicates:
        raise ValueError(f"{COMPRESSION} names a setup twice.")
    return frame


def _trained_with(frame, setup: str) -> list[str]:
    """The rows whose training ``setup`` needs, its own included: a student starts from the teacher's layers (both
    trainings count), a LayerDrop cut or a second early-exit threshold reuses the model trained for its first row,
    int8 adds no training to what it quantizes, and a cut or pruned teacher needs only the teacher."""
    if setup.startswith("int8 + "):
        return _trained_with(frame, setup.removeprefix("int8 + "))
    if setup in (FULL, "int8") or setup.startswith("no LayerDrop") or setup.endswith("heads pruned"):
        return [FULL]
    if setup.startswith("first "):
        return [FULL, setup]
    for family in ("LayerDrop", "early exit"):
        if setup.startswith(family):
            trained = [s for s in frame.index if s.startswith(family) and pd.notna(frame.loc[s, "train_seconds"])]
            if len(trained) != 1:
                raise ValueError(f"{COMPRESSION}: {len(trained)} {family} rows carry a training time; expected 1.")
            return trained
    raise ValueError(f"{COMPRESSION}: no price rule for the setup {setup!r}.")


def _best_row(frame) -> str:
    """The 'int8 on the best of these' row: the benchmark writes it right after the rows it chose from."""
    return next(s for s in frame.index if s.startswith("int8 + "))


def compression_source() -> str:
    return provenance(COMPRESSION)


def compression_table() -> str:
    """Every row of the one-seed run, with its training price (the teacher's included where it is needed) and,
    for a student, after how many examples its own training pays back in inference time."""
    frame = _compression()
    full = frame.loc[FULL]
    best = _best_row(frame)
    body = []
    for setup, row in frame.iterrows():
        needs = _trained_with(frame, setup)
        seconds = float(sum(frame.loc[n, "train_seconds"] for n in needs))
        own = [n for n in needs if n != FULL]
        if setup == FULL:
            payback = "—"
        elif FULL not in needs:
            payback = "— (no teacher)"
        elif not own:
            payback = "no extra training"
        else:
            extra = float(sum(frame.loc[n, "train_seconds"] for n in own))
            saved = (row["full_ms_per_example_2t"] - row["ms_per_example_2t"]) / 1000
            payback = _payback(extra, saved)
        name = setup + (" ‡" if setup == best else "") + (" †" if setup.endswith("heads pruned") else "")
        body.append([name, accuracy(row["dev_accuracy"]), accuracy(row["imdb_accuracy"]),
                     accuracy(row["cr_accuracy"]), number(row["ms_per_example_1t"], 2),
                     ratio(row["full_ms_per_example_1t"] / row["ms_per_example_1t"]),
                     number(row["ms_per_example_2t"], 2), ratio(row["full_ms_per_example_2t"] / row["ms_per_example_2t"]),
                     number(row["flops_per_example"] / 1e9, 3), ratio(full["flops_per_example"] / row["flops_per_example"]),
                     number(row["size_mb"], 1), f"{seconds:,.0f}", payback])
    header = ["setup", "SST-2 dev", "IMDB", "CR", "ms / ex, 1 thread", "speed-up", "ms / ex, 2 threads", "speed-up",
              "GFLOPs / ex", "FLOPs ratio", "MB", "training s, all included",
              "own training pays back after (examples)"]
    return (table(header, body) + "\n\nOne seed; no interval: these rows kept no per-example results, so no "
            "difference between two rows is tested and none is claimed. Speed-up: the full model's ms per example "
            "over the row's, both timed alternately in the same measurement. Training s, all included: the row's "
            "own training plus what it needs first (a student, distilled or on labels, starts from the teacher's "
            "first layers, so the teacher's training counts; the LayerDrop cuts reuse the LayerDrop model, the "
            "second early-exit threshold the first's model; int8 adds no training). Pays back: the student's own "
            "training seconds over the seconds it saves per example at 2 threads (training ran at 2 threads); "
            "\"no extra training\" rows need only the teacher, \"no teacher\" rows are trained instead of it. "
            f"‡ chosen by the benchmark as the fastest row within {100 * WITHIN:g} point of the full model's dev accuracy, "
            "on the same dev set it is scored on, so its dev accuracy is flattered by the choice. † plus a head-"
            "importance pass over the held-out sentences, not timed.")


def compression_timing_noise() -> str:
    """Inline: the speed-ups of rows with one architecture, whose spread is timing noise."""
    frame = _compression()
    speedups = {t: [frame.loc[s, f"full_ms_per_example_{t}t"] / frame.loc[s, f"ms_per_example_{t}t"]
                    for s in SAME_ARCHITECTURE] for t in (1, 2)}
    return (f"{ratio(min(speedups[1]))} to {ratio(max(speedups[1]))} at one thread and "
            f"{ratio(min(speedups[2]))} to {ratio(max(speedups[2]))} at two")


def compression_teacher_seconds() -> str:
    """Inline: the teacher's training time against the 6-layer LayerDrop model's (same data, steps and seed)."""
    frame = _compression()
    layer_drop = _trained_with(frame, "LayerDrop 0.5, all 6 layers")[0]
    teacher, other = frame.loc[FULL, "train_seconds"], frame.loc[layer_drop, "train_seconds"]
    return f"{teacher:,.0f} s, against {other:,.0f} s for the LayerDrop model ({number(teacher / other, 1)} times as long)"


def draw_compression(path: Path = RESULTS / "inference_compression.png") -> None:
    """Dev accuracy against ms per example at 2 threads, one point per row (no front: one seed, no interval)."""
    from matplotlib.figure import Figure

    frame = _compression()
    figure = Figure(figsize=(11, 6))
    axes = figure.subplots()
    ms, dev = frame["ms_per_example_2t"].to_numpy(), frame["dev_accuracy"].to_numpy()
    axes.scatter(ms, dev, color=["C3" if s == FULL else "C0" for s in frame.index], zorder=2)
    for number_, (x, y) in enumerate(zip(ms, dev, strict=True), start=1):
        axes.annotate(str(number_), (x, y), textcoords="offset points", xytext=(4, 3), fontsize=8)
    axes.set_xscale("log")
    ticks = [0.25, 0.5, 1, 2, 4]
    axes.set_xticks(ticks, [f"{t:g}" for t in ticks])
    axes.minorticks_off()
    axes.set_xlabel("ms per example (batched, 2 torch threads, log scale)")
    axes.set_ylabel("SST-2 dev accuracy")
    axes.set_title("Compressing all-MiniLM-L6-v2 on SST-2 (one seed; no interval)")
    legend = "\n".join(f"{i}. {s}" for i, s in enumerate(frame.index, start=1))
    axes.text(1.02, 1.0, legend, transform=axes.transAxes, fontsize=7, va="top")
    figure.subplots_adjust(left=0.07, right=0.66)
    figure.savefig(path, dpi=120, metadata={"Software": None})


FIGURES = {
    "early_exit_source": early_exit_source,
    "early_exit_chosen": early_exit_chosen,
    "early_exit_claim": early_exit_claim,
    "early_exit_verdict": early_exit_verdict,
    "early_exit_thresholds": early_exit_thresholds,
    "early_exit_on_test": early_exit_on_test,
    "early_exit_seeds_losing": early_exit_seeds_losing,
    "early_exit_exits": early_exit_exits,
    "early_exit_price": early_exit_price,
    "compression_source": compression_source,
    "compression_table": compression_table,
    "compression_timing_noise": compression_timing_noise,
    "compression_teacher_seconds": compression_teacher_seconds,
}

if __name__ == "__main__":
    draw_compression()
