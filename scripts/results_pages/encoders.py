"""docs/results/encoders.md: training throughput and accuracy of four fine-tuning setups side by side
(scripts/bench_encoders.py), and inference in fp32, bf16 and int8."""
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
    number,
    provenance,
    ratio,
    rows,
    table,
    verdict,
    wrap,
)

#: experiment -> (raw file, model label)
EXPERIMENTS = {
    "tiny": ("encoders_sst2_tiny.jsonl", "BERT-tiny from scratch"),
    "minilm": ("encoders_sst2_minilm.jsonl", "all-MiniLM-L6-v2"),
}
#: the command that writes each raw file (shown while its rows are not committed yet)
COMMANDS = {
    "tiny": "python scripts/bench_encoders.py --sizes tiny --steps 1000 --rounds 3 --once run_glue "
            "--learning-rate 1e-3 --warmup 0.06 --shuffle-batches --threads 1 --inference-rounds 3 "
            "--output-dir runs/bench_encoders/tiny --results docs/results/encoders_sst2_tiny.jsonl",
    "minilm": "python scripts/bench_encoders.py --sizes sentence-transformers/all-MiniLM-L6-v2 "
              "--steps 150 --rounds 2 --once run_glue --learning-rate 5e-5 --warmup 0.06 --shuffle-batches --threads 1 "
              "--inference-rounds 3 --output-dir runs/bench_encoders/minilm "
              "--results docs/results/encoders_sst2_minilm.jsonl",
}
SETUPS = ("run_glue", "careful", "flags", "greennlp")
PAIRS = (("greennlp", "run_glue"), ("greennlp", "careful"), ("flags", "careful"), ("careful", "run_glue"))
PENDING = "No rows are committed for this experiment yet: the command above writes them."


def _have(experiment: str) -> bool:
    return (RESULTS / EXPERIMENTS[experiment][0]).is_file()


def _train(experiment: str):
    frame = rows(EXPERIMENTS[experiment][0])
    return frame[frame.kind == "train"].reset_index(drop=True)


def _inference(experiment: str):
    frame = rows(EXPERIMENTS[experiment][0])
    return frame[frame.kind == "inference"].reset_index(drop=True)


def _round_ratios(frame, setup: str, baseline: str, column: str = "examples_per_s") -> list[float]:
    """``setup`` over ``baseline`` within each round both ran in (side by side, same seed)."""
    values = []
    for _, part in frame.groupby("round"):
        by_setup = part.set_index("setup")[column]
        if setup in by_setup.index and baseline in by_setup.index:
            values.append(float(by_setup[setup] / by_setup[baseline]))
    return values


def _ratios_text(values: list[float]) -> str:
    """One round: the ratio. Several: the geometric mean with a 95% interval over rounds (``paired_difference``
    of log speeds, one score per round), and the range."""
    if not values:
        return ""
    if len(values) == 1:
        return f"{ratio(values[0])} (one round; no interval)"
    logs = np.log(values)
    result = paired_difference({i: [v] for i, v in enumerate(logs)}, {i: [0.0] for i in range(len(logs))})
    return (f"{ratio(np.exp(result.mean))} [{ratio(np.exp(result.low))}, {ratio(np.exp(result.high))}] "
            f"({len(values)} rounds: {ratio(min(values))}–{ratio(max(values))})")


def source(experiment: str) -> str:
    if _have(experiment):
        return provenance(EXPERIMENTS[experiment][0])
    return f"```bash\n{_wrap_command(COMMANDS[experiment])}\n```\n\n{PENDING}"


def runs(experiment: str) -> str:
    """One row per training run, in the order they ran."""
    if not _have(experiment):
        return PENDING
    frame = _train(experiment)
    body = [[int(r.seed), r.setup, number(r.train_wall_s), f"{r.examples_per_s:,.1f}", f"{int(r.padded_tokens):,}",
             flops(r.train_flops), "bf16" if r.bf16 else "fp32", accuracy(r.dev_accuracy)]
            for r in frame.itertuples()]
    first = frame.iloc[0]
    return (table(["round (seed)", "setup", "train() s", "examples/s", "padded tokens", "train FLOPs", "precision",
                   "SST-2 dev accuracy"], body)
            + f"\n\n{int(first.steps):,} steps of {int(first.batch_size)} per run, learning rate "
            f"{first.learning_rate:g}, warm-up {first.warmup:g} of the steps, {_threads(int(first.threads))}; "
            "`train() s` is the wall time of `trainer.train()`, padded tokens and FLOPs come from `BudgetCallback`.")


def speed(experiment: str) -> str:
    """Side-by-side speed and FLOPs ratios, per round."""
    if not _have(experiment):
        return PENDING
    frame = _train(experiment)
    body = []
    for setup, baseline in PAIRS:
        speeds = _round_ratios(frame, setup, baseline)
        if not speeds:
            continue
        work = _round_ratios(frame, baseline, setup, "train_flops")
        body.append([f"`{setup}` / `{baseline}`", _ratios_text(speeds), _ratios_text(work)])
    return (table(["setups", "examples/s, side by side", "FLOPs, second ÷ first"], body)
            + "\n\nRatios within a round (same seed, setups alternating, order reversed every other round). Over "
            "several rounds: the geometric mean [95% interval over rounds] and the range; one round has no interval.")


def _threads(count: int) -> str:
    return f"{count} torch thread" + ("" if count == 1 else "s")


def accuracies(experiment: str) -> str:
    """Dev accuracy of each setup against `careful`, paired by seed and dev example."""
    if not _have(experiment):
        return PENDING
    frame = _train(experiment)
    body = []
    for setup in SETUPS:
        if setup == "careful" or setup not in set(frame.setup):
            continue
        result = compare(frame, "dev_accuracy", {"setup": setup}, {"setup": "careful"}, correct_key="sst2-dev")
        text = f"{difference(result)} ({result.seeds_ahead}/{result.seeds})"
        body.append([f"`{setup}`", accuracy(frame.loc[frame.setup == setup, "dev_accuracy"].mean()),
                     f"**{text}**" if result.verdict != "level" else text])
    careful = frame.loc[frame.setup == "careful", "dev_accuracy"].mean()
    return (table(["setup", "SST-2 dev accuracy (mean over seeds)", "minus `careful` (random order)"],
                  [["`careful`", accuracy(careful), ""], *body])
            + "\n\nPoints of accuracy, paired by seed and by dev sentence: mean [95% interval over the 872 dev "
            f"sentences and the seeds] (seeds ahead); bold: the interval excludes zero. {len(body)} comparisons. "
            "`run_glue` ran in the first round only (one seed).")


def inference(experiment: str) -> str:
    """Inference throughput and accuracy of fp32, bf16 autocast and int8 dynamic weights."""
    if not _have(experiment):
        return PENDING
    frame = _inference(experiment)
    base = frame[frame.precision == "fp32"].iloc[0]
    body = []
    for r in frame.itertuples():
        result = None if r.precision == "fp32" else compare(
            frame.assign(seed=0), "dev_accuracy", {"precision": r.precision}, {"precision": "fp32"},
            correct_key="sst2-dev")
        change = "" if result is None else f"{difference(result)} ({verdict(result)})"
        body.append([r.precision, f"{r.examples_per_s:,.0f}", ratio(r.examples_per_s / base.examples_per_s),
                     " / ".join(f"{t:.2f}" for t in r.rounds_s), accuracy(r.dev_accuracy), change,
                     number(r.size_mb)])
    return (table(["precision", "examples/s (median)", "vs fp32", "seconds per round", "SST-2 dev accuracy",
                   "minus fp32, points", "state dict MB"], body)
            + "\n\n" + _inference_settings(base) + " The accuracy change is paired by dev sentence (one model, so the "
            "interval covers the dev sentences only).")


def _inference_settings(row) -> str:
    return (f"Measured: {row.model}, classifying the {int(row.examples)} SST-2 dev sentences in length-sorted "
            f"batches of {int(row.batch_size)} (mean {number(row.mean_tokens)} tokens, longest {int(row.max_tokens)}, "
            f"truncation at {int(row.max_length)}), {_threads(int(row.threads))}, variants alternating over "
            f"{len(row.rounds_s)} round(s), the median round; int8 is `encoders.quantize_int8` (dynamic quantization of "
            "every `nn.Linear`; embeddings stay fp32).")


#: the project's targets: greennlp's speed over run_glue and careful, and its accuracy against careful (points)
TARGETS = {"run_glue": 10.0, "careful": 3.0, "accuracy": -0.5}


def _speed_status(values: list[float], target: float) -> str:
    if not values:
        return "not run"
    if len(values) == 1:
        return f"{'reached' if values[0] >= target else 'missed'} in one round ({ratio(values[0])}; no interval)"
    logs = np.log(values)
    result = paired_difference({i: [v] for i, v in enumerate(logs)}, {i: [0.0] for i in range(len(logs))})
    low, mean, high = (float(np.exp(x)) for x in (result.low, result.mean, result.high))
    text = f"{ratio(mean)} [{ratio(low)}, {ratio(high)}]"
    if low >= target:
        return f"met: {text}"
    if high < target:
        return f"missed: {text}"
    return f"not shown: {text}"


def targets() -> str:
    """Each target of the project, per model: met (the interval clears it), missed, or not shown."""
    header, columns = ["target"], []
    for experiment, (_, label) in EXPERIMENTS.items():
        header.append(label)
        if not _have(experiment):
            columns.append(["not measured yet"] * 3)
            continue
        frame = _train(experiment)
        result = compare(frame, "dev_accuracy", {"setup": "greennlp"}, {"setup": "careful"}, correct_key="sst2-dev")
        floor = TARGETS["accuracy"] / 100
        status = "met" if result.low >= floor else "missed" if result.high < floor else "not shown"
        columns.append([_speed_status(_round_ratios(frame, "greennlp", "run_glue"), TARGETS["run_glue"]),
                        _speed_status(_round_ratios(frame, "greennlp", "careful"), TARGETS["careful"]),
                        f"{status}: {difference(result)}"])
    names = [f"`greennlp` ≥ {TARGETS['run_glue']:g}x the examples/s of `run_glue`",
             f"`greennlp` ≥ {TARGETS['careful']:g}x the examples/s of `careful`",
             f"`greennlp`'s dev accuracy at most {-TARGETS['accuracy']:g} points below `careful`'s"]
    body = [[name, *[column[i] for column in columns]] for i, name in enumerate(names)]
    return (table(header, body)
            + "\n\nMet: the whole 95% interval clears the target; missed: the whole interval falls short; not shown: "
            "the interval straddles it. Speed intervals are over rounds (geometric mean of the side-by-side ratios), "
            "accuracy intervals over dev sentences and seeds.")


def speedup() -> str:
    """Inline: greennlp's examples/s against run_glue and careful, per model."""
    parts = []
    for experiment, (_, label) in EXPERIMENTS.items():
        if not _have(experiment):
            parts.append(f"{label}: not measured yet")
            continue
        frame = _train(experiment)
        steps = int(frame.steps.iloc[0])
        parts.append(f"{label} ({steps:,} steps): {_ratios_text(_round_ratios(frame, 'greennlp', 'run_glue'))} "
                     f"`run_glue`'s examples/s, {_ratios_text(_round_ratios(frame, 'greennlp', 'careful'))} "
                     "`careful`'s")
    return "; ".join(parts)


def accuracy_claim() -> str:
    """Inline: greennlp minus careful on SST-2 dev, per model."""
    parts = []
    for experiment, (_, label) in EXPERIMENTS.items():
        if not _have(experiment):
            parts.append(f"{label}: not measured yet")
            continue
        frame = _train(experiment)
        result = compare(frame, "dev_accuracy", {"setup": "greennlp"}, {"setup": "careful"}, correct_key="sst2-dev")
        parts.append(f"{label} {difference(result)} points ({verdict(result)}, {result.seeds} seeds)")
    return "; ".join(parts)


def int8() -> str:
    """Inline: int8 against fp32 on the pretrained encoder, with what was measured."""
    experiment = "minilm"
    if not _have(experiment):
        return "not measured yet"
    frame = _inference(experiment)
    base = frame[frame.precision == "fp32"].iloc[0]
    row = frame[frame.precision == "int8 dynamic"].iloc[0]
    result = compare(frame.assign(seed=0), "dev_accuracy", {"precision": "int8 dynamic"}, {"precision": "fp32"},
                     correct_key="sst2-dev")
    return (f"{ratio(row.examples_per_s / base.examples_per_s)} fp32's examples/s and {difference(result)} points "
            f"of SST-2 dev accuracy ({verdict(result)}) on all-MiniLM-L6-v2, at {_threads(int(row.threads))}, "
            f"batches of {int(row.batch_size)}, SST-2 dev sentences of mean length "
            f"{number(row.mean_tokens, 0)} tokens")



# --- int8 backends: torch.ao (quantize_int8) against torchao ----------------------------------------------------
INT8_BACKENDS = "int8_backends.jsonl"


def int8_backends_source() -> str:
    return provenance(INT8_BACKENDS)


def int8_backends() -> str:
    """fp32, greennlp's quantize_int8 (torch.ao dynamic) and torchao's int8 dynamic quantization on one model, timed
    alternately in one run, with SST-2 dev accuracy paired by sentence against fp32."""
    frame = rows(INT8_BACKENDS)
    frame["correct"] = [{"sst2-dev": list(c)} for c in frame["correct"]]  # one evaluation set per row
    body = []
    for threads in sorted(frame["threads"].unique()):
        part = frame[frame.threads == threads]
        for _, row in part.iterrows():
            if row.backend == "fp32":
                change = ""
            else:
                result = compare(part.assign(seed=0), "accuracy", {"backend": row.backend}, {"backend": "fp32"},
                                 correct_key="sst2-dev")
                change = f"{difference(result)} ({verdict(result)})"
            body.append([row.backend, _threads(int(threads)), number(row.ms_per_example, 2),
                         ratio(row.speedup), accuracy(row.accuracy), change])
    first = frame.iloc[0]
    return table(["backend", "threads", "ms / example (fastest round)", "speed-up vs fp32", "SST-2 dev accuracy",
                  "minus fp32, points"], body) + "\n\n" + wrap(
        f"all-MiniLM-L6-v2 fine-tuned for {number(first.epochs, 0)} epoch on {int(first.train_size):,} seeded SST-2 "
        f"training sentences, then classifying the 872 dev sentences in length-sorted batches of "
        f"{int(first.batch_size)}, the backends alternating within each timing round. torchao: "
        "`quantize_(model, Int8DynamicActivationInt8WeightConfig())`. The accuracy change is paired by dev sentence "
        "(one model, so the interval covers the dev sentences only).")


FIGURES = {"speedup": speedup, "accuracy_claim": accuracy_claim, "int8": int8, "targets": targets}
if (RESULTS / INT8_BACKENDS).exists():  # placed once its rows exist
    FIGURES.update({"int8_backends.source": int8_backends_source, "int8_backends.table": int8_backends})
for _experiment in EXPERIMENTS:
    FIGURES[f"{_experiment}.source"] = partial(source, _experiment)
    FIGURES[f"{_experiment}.runs"] = partial(runs, _experiment)
    FIGURES[f"{_experiment}.speed"] = partial(speed, _experiment)
    FIGURES[f"{_experiment}.accuracy"] = partial(accuracies, _experiment)
    FIGURES[f"{_experiment}.inference"] = partial(inference, _experiment)
