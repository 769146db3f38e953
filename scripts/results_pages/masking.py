"""docs/results/masking.md: does content-word masking reach random masking's accuracy in fewer pretraining steps,
what tagging adds to its price, and how fast tagging, collation and the pretraining loop run."""
from __future__ import annotations

from functools import partial

import pandas as pd

from greennlp.budgets import paired_difference

from . import accuracy, difference, mean_std, meta, number, provenance, ratio, rows, signed, table, verdict

PILOT = "masking_pilot.csv"
BENCH = "masking_bench_sst2.jsonl"
LOOP = "masking_loop_tiny.jsonl"
TASKS = {"sst2": "SST-2 dev", "trec": "TREC test"}
#: "similar accuracy" means: the whole 95% interval of content minus random lies above minus this many points.
MARGIN = 2.0
#: the loop the pilot pretrained with (packing, MLM head at masked positions only, fp32)
PILOT_LOOP = "+ head at masked positions only"


def _per_seed() -> pd.Series:
    """Accuracy per (task, masking, step, pretraining seed): the mean over that checkpoint's fine-tuning seeds."""
    frame = rows(PILOT)
    return frame[frame.masking != "none"].groupby(["task", "masking", "step", "pretrain_seed"]).accuracy.mean()


def _seeds(per_seed: pd.Series, task: str, masking: str, step: int) -> dict[int, list[float]]:
    part = per_seed[task, masking, step]
    return {int(seed): [float(value)] for seed, value in part.items()}


def _compare(task: str, step: int, reference_step: int | None = None):
    """Content at ``step`` minus random at ``reference_step`` (default: the same step), paired by pretraining seed
    (one score per seed: each seed's mean over its fine-tuning seeds)."""
    per_seed = _per_seed()
    return paired_difference(_seeds(per_seed, task, "content", step),
                             _seeds(per_seed, task, "random", reference_step or step))


def _steps() -> list[int]:
    frame = rows(PILOT)
    return sorted(int(s) for s in frame.loc[frame.masking == "random", "step"].unique())


def _to_match(curve: pd.Series, target: float, final: int) -> float | None:
    """First checkpoint at which ``curve`` (step -> accuracy) reaches ``target``, as a fraction of ``final``."""
    reached = [step for step, value in curve.sort_index().items() if value >= target]
    return reached[0] / final if reached else None


def _fraction(value: float | None) -> str:
    return "never" if value is None else ratio(value)


def _matches(task: str) -> dict:
    """Steps for content (and for random itself) to reach random's final accuracy: pooled over pretraining seeds
    and within each seed."""
    per_seed = _per_seed()
    final = _steps()[-1]
    part = per_seed[task]
    seeds = sorted(int(s) for s in part["random", final].index)
    pooled_target = float(part["random", final].mean())
    pooled_curve = part["content"].groupby(level="step").mean()
    pooled = _to_match(pooled_curve, pooled_target, final)
    margin = None if pooled is None else float(pooled_curve[round(pooled * final)] - pooled_target)
    by_seed = {}
    for seed in seeds:
        target = float(part["random", final, seed])
        by_seed[seed] = {masking: _to_match(part[masking].xs(seed, level="pretrain_seed"), target, final)
                         for masking in ("content", "random")}
    return {"final": final, "pooled": pooled, "margin": margin, "by_seed": by_seed}


def accuracy_table() -> str:
    """Accuracy after fine-tuning per checkpoint, per pretraining seed, and mean ± std over pretraining seeds."""
    frame = rows(PILOT)
    seeds = sorted(int(s) for s in frame.pretrain_seed.unique())
    body = []
    for task, label in TASKS.items():
        part = frame[frame.task == task]
        baseline = part[part.masking == "none"].accuracy
        body.append([label, "no pretraining", 0, *["" for _ in seeds],
                     f"{mean_std(baseline)} ({len(baseline)} fine-tuning seeds)"])
        for masking in ("random", "content", "whole-word"):
            for step in _steps():
                runs = part[(part.masking == masking) & (part.step == step)]
                if runs.empty:
                    continue
                means = runs.groupby("pretrain_seed").accuracy.mean()
                cells = [accuracy(means[s]) if s in means.index else "" for s in seeds]
                summary = mean_std(means) if len(means) > 1 else f"{accuracy(means.iloc[0])} (one seed; no interval)"
                body.append([label, masking, f"{step:,}", *cells, summary])
    counts = frame[frame.masking != "none"].groupby(["task", "masking", "step", "pretrain_seed"]).size()
    return (table(["task", "masking", "steps", *[f"seed {s}" for s in seeds], "mean ± std over seeds"], body)
            + f"\n\nEach cell is one pretraining seed's mean over its fine-tuning seeds ({counts.min()} to "
            f"{counts.max()} per checkpoint; {len(frame)} fine-tuning runs in all); ± is the population std over "
            "the pretraining seeds (ddof=0). The no-pretraining row is the same config with random weights.")


def vs_random() -> str:
    """Content minus random at each checkpoint, paired by pretraining seed."""
    body, count, outside = [], 0, 0
    for task, label in TASKS.items():
        cells = []
        for step in _steps():
            result = _compare(task, step)
            count += 1
            outside += result.verdict != "level"
            text = f"{difference(result)} ({result.seeds_ahead}/{result.seeds})"
            cells.append(f"**{text}**" if result.verdict != "level" else text)
        body.append([label, *cells])
    return (table(["task", *[f"{s:,} steps" for s in _steps()]], body)
            + "\n\nPoints of accuracy, content minus random at the same checkpoint, paired by pretraining seed: mean "
            "[95% interval over pretraining seeds only; the runs kept no per-example results] (seeds ahead). Bold: "
            f"the interval excludes zero. {count} comparisons; {outside} exclude zero.")


def steps_to_match() -> str:
    """Content at each checkpoint minus random at its final checkpoint, and the steps-to-match fractions."""
    body, count, outside = [], 0, 0
    for task, label in TASKS.items():
        match = _matches(task)
        final = match["final"]
        cells = []
        for step in _steps():
            result = _compare(task, step, final)
            count += 1
            outside += result.verdict != "level"
            text = f"{difference(result)} ({result.seeds_ahead}/{result.seeds})"
            cells.append(f"**{text}**" if result.verdict != "level" else text)
        seeds = match["by_seed"]
        pooled = _fraction(match["pooled"])
        if match["margin"] is not None:
            pooled += f" (by {signed(100 * match['margin'])} points)"
        body.append([label, *cells, pooled, " / ".join(_fraction(seeds[s]["content"]) for s in sorted(seeds)),
                     " / ".join(_fraction(seeds[s]["random"]) for s in sorted(seeds))])
    final = _steps()[-1]
    header = ["task", *[f"content at {s:,} − random at {final:,}" for s in _steps()],
              "content: steps to match, pooled", "content, per seed (0 / 1 / 2)", "random itself, per seed"]
    return (table(header, body)
            + f"\n\nThe first columns: content masking at each checkpoint minus random masking at {final:,} steps, "
            "in points, paired by pretraining seed [95% interval over pretraining seeds] (seeds ahead); bold: the "
            f"interval excludes zero ({count} comparisons; {outside} exclude zero). Steps to match: the first "
            f"checkpoint at which content masking's accuracy reaches random masking's accuracy at {final:,} steps, "
            f"as a fraction of {final:,}; pooled compares "
            "means over the pretraining seeds, per seed compares within a seed. The last column applies the same "
            "rule to random masking against its own final accuracy: where it says less than 1.00x, random's "
            "curve had already reached its final value earlier, which shows how noisy a single crossing is.")


def _tagging_share(rule: str) -> float:
    """Seconds to tag the pilot's corpus once with ``add_content_word_mask``, as a share of a random-masking run's
    pretraining time (its final step count at the pilot loop's measured speed)."""
    bench = rows(BENCH).iloc[0]
    loop = rows(LOOP).iloc[0]
    words = meta(PILOT)["corpus"]["words"]
    frame = rows(PILOT)
    tokens = float(frame.loc[(frame.masking == "random") & (frame.step == _steps()[-1]), "pretrain_tokens"].iloc[0])
    tagging = bench["tagging_blank" if rule == "lexical" else "tagging"]
    seconds = words / tagging["words_per_s"]["add_content_word_mask"]
    return seconds / (tokens / loop["tokens_per_s"][PILOT_LOOP])


def price() -> str:
    """Total price of reaching random masking's final accuracy, in units of one random-masking pretraining run."""
    bench = rows(BENCH).iloc[0]
    final = _steps()[-1]
    body = [["random", "none", ratio(1.0), ratio(1.0)]]
    for rule, name in (("lexical", "content, lexical rule on `spacy.blank` (as pretrained)"),
                       ("pos", f"content, POS tagger `{bench['tagging']['pipeline']}` (not pretrained)")):
        share = _tagging_share(rule)
        cells = []
        for task in TASKS:
            match = _matches(task)
            total = "never" if match["pooled"] is None else ratio(match["pooled"] + share)
            per_seed = " / ".join("never" if match["by_seed"][s]["content"] is None
                                  else ratio(match["by_seed"][s]["content"] + share) for s in sorted(match["by_seed"]))
            cells.append(f"{total} (per seed: {per_seed})")
        body.append([name, ratio(share), *cells])
    corpus = meta(PILOT)["corpus"]
    loop = rows(LOOP).iloc[0]["tokens_per_s"][PILOT_LOOP]
    speeds = [f"{bench[key]['words_per_s']['add_content_word_mask']:,}" for key in ("tagging_blank", "tagging")]
    return (table(["masking", "tagging, once", *[f"{label}: total to reach random's final accuracy"
                                                 for label in TASKS.values()]], body)
            + f"\n\nIn units of one random-masking run of {final:,} steps. Total = the steps content masking needed to "
            "reach random's final accuracy (pooled over pretraining seeds, and per seed; the table above) plus "
            "tagging the corpus once. Tagging is priced at the measured speed of the whole `add_content_word_mask` "
            f"({speeds[0]} words/s with the lexical rule, {speeds[1]} with the POS tagger) over the "
            f"{corpus['words']:,} words of {corpus['name']}, pretraining at the pilot loop's measured "
            f"{loop:,} tokens/s; both were measured on the same machine and day (below), so the shares are "
            "indicative. Random masking also tokenizes its corpus, which this charges to content masking as well. "
            "Tagging is paid once per corpus and tokenizer (cached by fingerprint), so runs that reuse the tagged "
            "corpus share it.")


def claim() -> str:
    """Inline: the end-of-budget difference on SST-2 and the per-seed steps to match."""
    final = _steps()[-1]
    result = _compare("sst2", final)
    seeds = _matches("sst2")["by_seed"]
    per_seed = " / ".join(_fraction(seeds[s]["content"]) for s in sorted(seeds))
    return (f"{difference(result)} points at {final:,} steps on SST-2, {verdict(result)} ({result.seeds} pretraining "
            f"seeds); steps to reach random's final accuracy: {per_seed} by seed")


def _half_budget(task: str):
    """Content at half the steps minus random at the full budget."""
    steps = _steps()
    half = steps[-1] // 2
    if half not in steps:
        raise ValueError(f"no checkpoint at half of {steps[-1]} steps in {PILOT}")
    return _compare(task, half, steps[-1])


def verdict_text() -> str:
    """Inline: holds / holds in part / not shown, by the rule stated on the page."""
    shown = [task for task in TASKS if _half_budget(task).low * 100 > -MARGIN]
    if len(shown) == len(TASKS):
        return "holds"
    if shown:
        return "holds in part (" + ", ".join(TASKS[t] for t in shown) + ")"
    return "not shown"


def half_budget() -> str:
    """Inline: content at half the steps minus random at the full budget, per task."""
    parts = []
    for task, label in TASKS.items():
        result = _half_budget(task)
        parts.append(f"{label} {difference(result)} ({verdict(result)})")
    return "; ".join(parts)


def tagging() -> str:
    """Tagging throughput: add_content_word_mask against spaCy's own nlp.pipe, same pipeline."""
    bench = rows(BENCH).iloc[0]
    body = []
    for key in ("tagging", "tagging_blank"):
        part = bench[key]
        components = " + ".join(part["components"]) or "tokenizer only"
        name = f"`{part['pipeline']}`" if part["components"] else '`spacy.blank("en")`'
        rule = {"pos": "POS rule", "lexical": "lexical rule"}[part["strategy"]]
        speed = part["words_per_s"]
        body.append([f"`nlp.pipe`, {name} ({components}; {rule})", f"{speed['nlp.pipe']:,}", ratio(1.0, 3)])
        body.append([f"`add_content_word_mask`, {name}", f"{speed['add_content_word_mask']:,}",
                     ratio(part["throughput_ratio"], 3)])
    return (table(["tagging (best of alternating rounds)", "words/s", "throughput vs `nlp.pipe`"], body)
            + f"\n\n{bench['tagging']['texts']:,} SST-2 training sentences ({bench['tagging']['words']:,} words), "
            f"tokenizer {bench['tokenizer']}, {bench['torch_threads']} torch threads. "
            f"{len(bench['tagging']['seconds_per_round']['nlp.pipe'])} rounds per variant; the best round of each.")


def collation() -> str:
    """Collation time per batch: DataCollatorForContentMasking against the HF collator it builds on."""
    bench = rows(BENCH).iloc[0]["collation"]
    body = [[f"`{name}`" if name.startswith("Data") else name, number(ms, 3),
             ratio(bench["time_ratio_vs_hf"][name], 2)] for name, ms in bench["median_ms_per_batch"].items()]
    return (table(["collator", "median ms per batch", "time vs `DataCollatorForLanguageModeling`"], body)
            + f"\n\nBatches of {bench['batch_size']}, {bench['batches_timed']:,} batches timed per collator, "
            "alternating collator by collator within each batch.")


def loop() -> str:
    """Pretraining loop speed: the textbook loop and each speed-up added in turn."""
    bench = rows(LOOP).iloc[0]
    body = [[name, f"{speed:,}", ratio(bench["speedup_vs_plain"][name])] for name, speed in bench["tokens_per_s"].items()]
    return (table(["loop", "tokens/s", "vs plain"], body)
            + f"\n\nBERT-{bench['size']}, vocabulary {bench['vocab_size']:,}, batch {bench['batch_size']} × "
            f"{bench['seq_len']} tokens, {bench['threads']} threads on {bench['device']}, {bench['rounds']} rounds "
            f"of {bench['steps_per_round']} steps per variant, variants alternating.")


FIGURES = {
    "pilot_source": partial(provenance, PILOT, command=False),
    "accuracy": accuracy_table,
    "vs_random": vs_random,
    "steps_to_match": steps_to_match,
    "price": price,
    "claim": claim,
    "verdict": verdict_text,
    "half_budget": half_budget,
    "bench_source": partial(provenance, BENCH),
    "tagging": tagging,
    "collation": collation,
    "loop_source": partial(provenance, LOOP),
    "loop": loop,
}
