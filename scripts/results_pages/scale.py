"""docs/results/scale.md: throughput of greennlp's datatrove steps (cleaning against datatrove's Gopher filters,
content-word tagging with 1 and 2 workers)."""
from __future__ import annotations

from . import number, provenance, ratio, rows, table

BENCH = "scale_bench.jsonl"
OURS, THEIRS = "greennlp QualityFilter", "datatrove Gopher quality + repetition"
LABELS = {OURS: "greennlp `QualityFilter` (default chain)",
          THEIRS: "datatrove `GopherQualityFilter` + `GopherRepetitionFilter`"}


def _run() -> dict:
    frame = rows(BENCH)
    if len(frame) != 1:
        raise ValueError(f"{BENCH} holds {len(frame)} runs; this page reports one benchmark run.")
    return frame.iloc[0].to_dict()


def source() -> str:
    run = _run()
    load = run["load_average_1min"]
    return (provenance(BENCH) + f" Load average (1 min) {number(load['before'], 1)} before the run and "
            f"{number(load['after'], 1)} after, on {run['cpus']} cores.")


def cleaning() -> str:
    """Documents per second of each cleaning step (best of its rounds), the seconds of every round and what each kept."""
    run = _run()
    result = run["cleaning_one_process"]
    body = []
    for name, label in LABELS.items():
        rounds = ", ".join(number(s, 2) for s in result["seconds_per_round"][name])
        body.append([label, f"{result['documents_per_s'][name]:,.0f}", rounds,
                     f"{result['kept'][name]:,} of {result['documents']:,}"])
    return (table(["step", "documents/s (best round)", "seconds per round", "documents kept"], body) +
            f"\n\nOne process, {result['rounds']} alternating rounds over the same `Document`s; one run, so no "
            "interval: the rounds show the spread.")


def cleaning_ratio() -> str:
    """Inline: greennlp's documents/s over datatrove's, best round of each, with the range over rounds."""
    result = _run()["cleaning_one_process"]
    per_round = [theirs / ours for ours, theirs in zip(result["seconds_per_round"][OURS],
                                                       result["seconds_per_round"][THEIRS], strict=True)]
    return (f"{ratio(result['ratio_greennlp_over_datatrove'], 1)} (rounds: "
            f"{', '.join(ratio(r, 1) for r in per_round)})")


def kept() -> str:
    result = _run()["cleaning_one_process"]
    return f"{result['kept'][OURS]:,} of {result['documents']:,}"


def kept_datatrove() -> str:
    result = _run()["cleaning_one_process"]
    return f"{result['kept'][THEIRS]:,}"


def agreement() -> str:
    return f"{100 * _run()['cleaning_one_process']['decisions_agree']:.1f}%"


def tagging() -> str:
    """Seconds and words per second of tagging, packing and writing with 1 and 2 workers."""
    result = _run()["tagging"]
    body = []
    for key in result["seconds"]:
        rounds = ", ".join(number(s, 2) for s in result["seconds_per_round"][key])
        body.append([key.split()[0], rounds, number(result["seconds"][key], 2), f"{result['words_per_s'][key]:,}"])
    return (table(["workers", "seconds per round", "seconds (best round)", "words/s"], body) +
            f"\n\n{result['documents']:,} documents, {result['words']:,} whitespace words, {result['tasks']} tasks, "
            f"tagger `{result['tagger']}`; {result['rounds']} alternating rounds per setting; one run, no interval.")


def speedup() -> str:
    return ratio(_run()["tagging"]["speedup_2_over_1"], 2)


FIGURES = {"bench.source": source, "bench.cleaning": cleaning, "bench.cleaning_ratio": cleaning_ratio,
           "bench.kept": kept, "bench.kept_datatrove": kept_datatrove, "bench.agreement": agreement,
           "bench.tagging": tagging, "bench.speedup": speedup}
