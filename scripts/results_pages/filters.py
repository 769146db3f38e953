"""docs/results/filters.md: what the cleaning rules and language identification drop on WikiText-2, how fast the
cleaning chain runs, and which fraction of SST-2 to keep by which score (frozen-embedding learner)."""
from __future__ import annotations

from functools import partial

from . import _wrap_command, compare, difference, mean_std, number, provenance, rows, table

WIKITEXT = "filters_wikitext.jsonl"
THROUGHPUT = "filters_throughput.jsonl"
PROBE = "filters_sst2_probe.jsonl"
UNITS = {"paragraph": "one document per paragraph", "article": "one document per article"}
EVALS = {"sst2_dev": "SST-2 dev", "imdb": "IMDB", "cr": "CR"}
METHODS = ("random", "ambiguous", "el2n (highest)", "aum (lowest)", "prototype hard", "prototype easy")
VARIANTS = {"loop": "plain Python loop over the strings", "annotate": "`annotate_quality` (first failing rule)",
            "annotate_all": "`annotate_quality(all_reasons=True)`", "annotate_np2": "`annotate_quality(num_proc=2)`"}


def _unit(name: str, unit: str) -> dict:
    frame = rows(name)
    chosen = frame[frame["unit"] == unit]
    if len(chosen) != 1:
        raise ValueError(f"{name} has {len(chosen)} rows for unit {unit!r}; expected one.")
    return chosen.iloc[0].to_dict()


def source(name: str) -> str:
    """Every distinct command of a raw file (one per unit), then machine, versions, date and the file."""
    commands = list(dict.fromkeys(run["command"] for run in rows(name)["run"]))
    load = ""
    frame = rows(name)
    if "load_average_1min" in frame.columns:
        values = [v for pair in frame["load_average_1min"] for v in pair.values()]
        load = (f" Load average (1 min) between {number(min(values), 1)} and {number(max(values), 1)} during the "
                f"runs, on {int(frame['cpus'].iloc[0])} cores.")
    return "```bash\n" + "\n".join(_wrap_command(c) for c in commands) + "\n```\n\n" + provenance(name, command=False) + load


def rules(unit: str) -> str:
    """Documents each rule drops as the first failing rule, and on its own (``all_reasons=True``)."""
    row = _unit(WIKITEXT, unit)
    total = row["documents"]
    first, alone = row["counts"]["first"], row["counts"]["alone"]
    body, silent = [], []
    for rule in first:
        if rule != "kept" and first[rule] == 0 and alone[rule] == 0:
            silent.append(f"`{rule}`")
            continue
        body.append([rule, f"{first[rule]:,}", f"{first[rule] / total:.1%}", f"{alone[rule]:,}",
                     f"{alone[rule] / total:.1%}"])
    note = f"\n\n{total:,} documents ({UNITS[unit]})."
    if silent:
        note += f" Every other rule ({', '.join(silent)}) dropped none."
    return table(["rule", "dropped (first failing rule)", "share", "fails on its own", "share"], body) + note


def share(unit: str, rule: str, column: str = "alone") -> str:
    """Inline: the share of documents a rule drops (``alone`` or ``first``)."""
    row = _unit(WIKITEXT, unit)
    return f"{row['counts'][column][rule] / row['documents']:.0%}"


def examples(unit: str) -> str:
    """The seeded examples of each rule, as Markdown bullets."""
    row = _unit(WIKITEXT, unit)
    lines = []
    for rule, texts in row["examples"].items():
        lines.append(f"- `{rule}` ({row['counts']['first'][rule]:,} documents):")
        lines += [f"  - `{text}`" for text in texts]
    return "\n".join(lines)


def alphabetic() -> str:
    """How many documents of at least 50 whitespace tokens the ``alphabetic_words`` rule drops at each threshold."""
    body, thresholds = [], None
    for unit in UNITS:
        sweep = _unit(WIKITEXT, unit)["alphabetic_sweep"]
        thresholds = list(sweep["dropped"])
        body.append([unit, f"{sweep['documents']:,}",
                     *[f"{sweep['dropped'][t]:,} ({sweep['dropped'][t] / sweep['documents']:.1%})" for t in thresholds]])
    return table(["documents", "with ≥ 50 whitespace tokens", *[f"dropped at min_fraction={t}" for t in thresholds]],
                 body)


def language() -> str:
    body, example_lines = [], []
    for unit in UNITS:
        report = _unit(WIKITEXT, unit)["language_id"]
        body.append([unit, f"{report['documents']:,}", f"{report['dropped']:,}",
                     f"{report['dropped'] / report['documents']:.1%}", number(report["cpu_seconds"], 1),
                     number(report["load_cpu_seconds"], 1)])
        example_lines += [f"- {unit}: `{text}`" for text in report["examples"]]
    report = _unit(WIKITEXT, "article")["language_id"]
    return (table(["documents", "non-blank documents", "dropped", "share", "CPU s", "model load CPU s"], body) +
            f"\n\n`default_rules(only=[\"language_id\"], language=\"{report['language']}\", "
            f"language_id={{\"min_probability\": {report['min_probability']}}})` on "
            f"the first {report['max_characters']:,} characters of each document. Dropped examples (seeded):\n\n" +
            "\n".join(example_lines))


def throughput() -> str:
    """Documents/s and MB/s of each variant (best round), with every round's seconds."""
    body = []
    for unit in UNITS:
        row = _unit(THROUGHPUT, unit)
        for i, (variant, label) in enumerate(VARIANTS.items()):
            rounds = ", ".join(number(s, 2) for s in row["seconds_per_round"][variant])
            first = f"{row['documents']:,} {unit}s ({number(row['megabytes'], 1)} MB)" if i == 0 else ""
            body.append([first, label, f"{row['documents_per_s'][variant]:,}",
                         number(row["megabytes_per_s"][variant], 2), rounds])
    rounds = _unit(THROUGHPUT, "article")["rounds"]
    return (table(["documents", "variant", "documents/s", "MB/s", "seconds per round"], body) +
            f"\n\nWikiText-2 train, default chain; best of {rounds} alternating rounds per variant; one run, so no "
            "interval: the rounds show the spread.")


def throughput_ratio(unit: str, key: str) -> str:
    return number(_unit(THROUGHPUT, unit)[key], 2)


def rule_seconds() -> str:
    """Seconds of each rule alone over all documents (best round), most expensive first."""
    article, paragraph = _unit(THROUGHPUT, "article"), _unit(THROUGHPUT, "paragraph")
    order = sorted(article["rule_seconds_alone"], key=lambda r: -article["rule_seconds_alone"][r])
    body = [[rule, number(article["rule_seconds_alone"][rule], 2), number(paragraph["rule_seconds_alone"][rule], 2)]
            for rule in order]
    return table(["rule", "seconds over all articles", "seconds over all paragraphs"], body)


def _probe():
    return rows(PROBE)


def probe_accuracy() -> str:
    """Mean ± std over seeds per fraction and method, on each evaluation set."""
    frame = _probe()
    body = []
    for fraction in sorted(frame["fraction"].unique()):
        for method in (("full",) if fraction == 1 else METHODS):
            part = frame[(frame.fraction == fraction) & (frame.method == method)]
            body.append([f"{fraction:g}", method, f"{int(part['size'].iloc[0]):,}",
                         *[mean_std(part[m]) for m in EVALS]])
    seeds = sorted(frame["seed"].unique())
    return (table(["fraction", "method", "examples", *EVALS.values()], body) +
            f"\n\nMean ± population std over seeds {', '.join(map(str, seeds))}.")


def probe_versus() -> str:
    """Each method minus random at the same fraction, paired by seed, with per-example correctness."""
    frame = _probe()
    body, count, outside = [], 0, 0
    for fraction in sorted(f for f in frame["fraction"].unique() if f < 1):
        for method in METHODS[1:]:
            cells = []
            for metric in EVALS:
                result = compare(frame, metric, {"fraction": fraction, "method": method},
                                 {"fraction": fraction, "method": "random"})
                count += 1
                outside += result.verdict != "level"
                text = f"{difference(result)} ({result.seeds_ahead}/{result.seeds})"
                cells.append(f"**{text}**" if result.verdict != "level" else text)
            body.append([f"{fraction:g}", method, *cells])
    return (table(["fraction", "method", *EVALS.values()], body) +
            f"\n\nPoints of accuracy minus the random subset of the same size, paired by seed: mean [95% interval "
            f"over evaluation examples and seeds] (seeds ahead). Bold: the interval excludes zero. {count} "
            f"comparisons ({len(METHODS) - 1} methods × {count // (len(METHODS) - 1) // len(EVALS)} fractions × "
            f"{len(EVALS)} evaluation sets); at 95% about {count / 20:.1f} would exclude zero by chance alone, and "
            f"{outside} do.")


def probe_random_vs_full() -> str:
    frame = _probe()
    body = []
    for fraction in sorted(f for f in frame["fraction"].unique() if f < 1):
        cells = []
        for metric in EVALS:
            result = compare(frame, metric, {"fraction": fraction, "method": "random"}, {"method": "full"})
            text = f"{difference(result)} ({result.seeds_ahead}/{result.seeds})"
            cells.append(f"**{text}**" if result.verdict != "level" else text)
        body.append([f"{fraction:g}", *cells])
    return (table(["random fraction", *EVALS.values()], body) +
            f"\n\nPoints of accuracy, random subset minus all {int(frame['train_size'].iloc[0]):,} sentences, paired "
            "by seed [95% interval over evaluation examples and seeds] (seeds ahead); bold where the interval "
            f"excludes zero; {len(body) * len(EVALS)} comparisons.")


def probe_price() -> str:
    """What each selection needs before the learner's fit, in seconds (means over seeds)."""
    frame = _probe()
    embed = float(frame["embed_seconds"].iloc[0])
    map_seconds = float(frame.groupby("seed")["map_train_seconds"].first().mean())
    kmeans = float(frame.groupby("seed")["kmeans_seconds"].first().mean())
    body = []
    for fraction in sorted(frame["fraction"].unique()):
        for method in (("full",) if fraction == 1 else METHODS):
            part = frame[(frame.fraction == fraction) & (frame.method == method)]
            needs = set(part["needs"].iloc[0])
            first = (map_seconds if "map" in needs else 0.0) + (kmeans if "kmeans" in needs else 0.0)
            fit = float(part["fit_seconds"].mean())
            body.append([f"{fraction:g}", method, "map run" if "map" in needs else "k-means" if "kmeans" in needs
                         else "nothing", number(first, 1), number(fit, 2), number(first + fit, 2)])
    return (table(["fraction", "method", "needs first", "seconds first", "fit seconds", "total seconds"], body) +
            f"\n\nMeans over seeds, wall seconds. The map run is the full-data tiny-BERT training that records the "
            f"data map ({number(map_seconds, 1)} s); k-means runs on the embeddings ({number(kmeans, 1)} s). Every "
            f"row also needs the all-MiniLM-L6-v2 embeddings of the training sentences, which the learner uses "
            f"anyway ({number(embed, 1)} s, not in the totals).")


def probe_map_accuracy() -> str:
    frame = _probe()
    full = frame[frame.method == "full"]
    return ", ".join(f"{label} {mean_std([row[metric] for row in full['map_accuracy']])}"
                     for metric, label in EVALS.items())


def probe_source() -> str:
    return source(PROBE)


FIGURES = {
    "wikitext.source": partial(source, WIKITEXT),
    "wikitext.alphabetic": alphabetic,
    "wikitext.language": language,
    "throughput.source": partial(source, THROUGHPUT),
    "throughput.table": throughput,
    "throughput.rules": rule_seconds,
}
FIGURES.update({
    "probe.source": probe_source,
    "probe.accuracy": probe_accuracy,
    "probe.versus": probe_versus,
    "probe.random_vs_full": probe_random_vs_full,
    "probe.price": probe_price,
    "probe.map_accuracy": probe_map_accuracy,
})
for _unit_name in UNITS:
    FIGURES[f"wikitext.rules.{_unit_name}"] = partial(rules, _unit_name)
    FIGURES[f"wikitext.examples.{_unit_name}"] = partial(examples, _unit_name)
    for _key in ("ratio_annotate_over_loop_time", "ratio_np2_speedup"):
        FIGURES[f"throughput.{_key}.{_unit_name}"] = partial(throughput_ratio, _unit_name, _key)
for _unit_name, _rule in (("paragraph", "alphabetic_words"), ("article", "alphabetic_words"),
                          ("paragraph", "word_count"), ("article", "repeated_ngrams")):
    FIGURES[f"wikitext.share.{_unit_name}.{_rule}"] = partial(share, _unit_name, _rule)
