"""docs/results/dedup.md: semantic deduplication against SemHash and datatrove MinHash on injected near-duplicates,
and what it finds in SST-2, IMDB and WikiText-2."""
from __future__ import annotations

from functools import partial

import numpy as np

from greennlp.budgets import paired_difference

from . import RESULTS, compare, difference, mean_std, provenance, rows, table, verdict, wrap

INJECTED, REAL, SCALING, TRAIN = ("dedup_injected.jsonl", "dedup_real.jsonl", "dedup_scaling.jsonl",
                                  "dedup_train.jsonl")
CORPORA = {"cr": "CR product-review sentences", "imdb": "IMDB reviews"}
TOOLS = {"greennlp": "greennlp `SemanticDeduplicator`", "semhash": "SemHash 0.5",
         "datatrove-minhash": "datatrove MinHash"}
KINDS = {"word_drop": "words dropped", "word_swap": "words swapped", "case": "case changed",
         "punctuation": "punctuation changed", "sentence_removed": "a sentence (or clause) removed"}
DATASETS = {"sst2": "SST-2 train", "imdb": "IMDB train", "wikitext2": "WikiText-2 train (lines)"}
ENCODERS = {"static": "static (distilled all-MiniLM-L6-v2)", "minilm": "all-MiniLM-L6-v2"}


def _percent(value: float, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f}%"


def _runs(corpus: str):
    """One entry per tool and threshold: the first repeat's decisions (all repeats decide the same) and every
    repeat's speed."""
    frame = rows(INJECTED)
    frame = frame[frame.corpus == corpus]
    frame = frame.assign(threshold=frame["threshold"].astype(object).where(frame["threshold"].notna(), None))
    for (tool, threshold), part in frame.groupby(["tool", "threshold"], dropna=False, sort=False):
        yield tool, (None if threshold is None or threshold != threshold else float(threshold)), part


def _f1(row) -> float:
    return 2 * row["precision"] * row["recall"] / max(row["precision"] + row["recall"], 1e-12)


def injected_source() -> str:
    return provenance(INJECTED)


def injected_table(corpus: str) -> str:
    """Precision, recall, other documents dropped and documents per CPU-second, per tool and threshold."""
    body = []
    for tool, threshold, part in _runs(corpus):
        first = part.iloc[0]
        speed = part["docs_per_cpu_second"].to_numpy()
        body.append([TOOLS[tool], "—" if threshold is None else f"{threshold:g}", f"{first['precision']:.3f}",
                     f"{first['recall']:.3f}", f"{_f1(first):.3f}", _percent(first["other_dropped"], 2),
                     f"{np.median(speed):,.0f} ({speed.min():,.0f}–{speed.max():,.0f})"])
    first = rows(INJECTED).query("corpus == @corpus").iloc[0]
    return table(["tool", "cosine threshold", "precision", "recall", "F1", "other documents dropped",
                  "documents / CPU-second: median (range)"], body) + "\n\n" + wrap(
        f"{first['n_texts']:,} documents, {first['copies']} of them injected near-copies. Speed over "
        f"{rows(INJECTED)['repeat'].nunique()} timed runs of each tool (each run decides the same), model loading "
        "and embedding included.")


def injected_by_kind(corpus: str) -> str:
    """Recall of each kind of change, per tool and threshold."""
    body = []
    for tool, threshold, part in _runs(corpus):
        by_kind = part.iloc[0]["recall_by_kind"]
        body.append([TOOLS[tool], "—" if threshold is None else f"{threshold:g}",
                     *[f"{by_kind[kind]:.2f}" for kind in KINDS]])
    return table(["tool", "threshold", *KINDS.values()], body)


def _pair(corpus: str, threshold: float, key: str):
    """paired_difference of greennlp minus SemHash over the injected groups (``caught``) or the base documents
    (``over_dropped``) at ``threshold``."""
    frame = rows(INJECTED)
    frame = frame[(frame.corpus == corpus) & (frame.threshold == threshold) & (frame.repeat == 0)]
    ours = frame[frame.tool == "greennlp"].iloc[0][key]
    theirs = frame[frame.tool == "semhash"].iloc[0][key]
    return paired_difference(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float))


def _speed(corpus: str, threshold: float):
    """paired_difference of documents per CPU-second, greennlp minus SemHash, paired by timed run."""
    frame = rows(INJECTED)
    frame = frame[(frame.corpus == corpus) & (frame.threshold == threshold)]
    ours = frame[frame.tool == "greennlp"].set_index("repeat")["docs_per_cpu_second"]
    theirs = frame[frame.tool == "semhash"].set_index("repeat")["docs_per_cpu_second"]
    return paired_difference({r: [ours[r]] for r in ours.index}, {r: [theirs[r]] for r in theirs.index}), \
        float(np.median(ours) / np.median(theirs))


def versus_semhash(corpus: str) -> str:
    """greennlp against SemHash on the same static model and threshold: recall, false drops, speed, intervals."""
    frame = rows(INJECTED)
    body = []
    for threshold in sorted(frame[(frame.corpus == corpus) & (frame.tool == "semhash")]["threshold"].unique()):
        recall = _pair(corpus, threshold, "caught")
        false = _pair(corpus, threshold, "over_dropped")
        speed, times = _speed(corpus, threshold)
        body.append([f"{threshold:g}", f"{difference(recall)} ({verdict(recall)})",
                     f"{difference(false, digits=2)} ({verdict(false, ahead='more', behind='fewer')})",
                     f"{times:.2f}x; {difference(speed, scale=1, digits=0)} ({verdict(speed, ahead='faster', behind='slower')})"])
    return table(["threshold", "recall, points", "other documents dropped, points",
                  "documents / CPU-second: ratio of medians; difference"], body) + "\n\n" + wrap(
        "greennlp minus SemHash, same documents, same static model, same threshold. Recall and false drops: mean "
        "difference [95% paired bootstrap interval over the injected groups, resp. the distinct documents]; speed: "
        "[interval over the timed runs]. A difference whose interval holds zero is level.")


def goals(corpus: str) -> str:
    """The targets: recall >= 0.9 with at most 1% of other documents dropped; at least SemHash's F1."""
    lines = []
    for tool, threshold, part in _runs(corpus):
        if tool == "datatrove-minhash":
            continue
        first = part.iloc[0]
        met = first["recall"] >= 0.9 and first["other_dropped"] <= 0.01
        lines.append(f"{TOOLS[tool]} at {threshold:g}: recall {first['recall']:.3f} with "
                     f"{_percent(first['other_dropped'], 2)} of other documents dropped, "
                     f"{'meets' if met else 'misses'} the target of recall 0.9 with at most 1% dropped.")
    return wrap(" ".join(lines))


def real_source() -> str:
    return provenance(REAL)


def real_table() -> str:
    """Kept fraction per data set, encoder and threshold, beside SemHash's with the same static model."""
    frame = rows(REAL)
    ours = frame[frame.tool == "greennlp"]
    theirs = frame[frame.tool == "semhash"].set_index(["dataset", "threshold"])["kept_fraction"]
    body = []
    for _, row in ours.iterrows():
        key = (row["dataset"], row["threshold"])
        peer = _percent(theirs[key]) if row["encoder"] == "static" and key in theirs.index else "—"
        dropped = row["n_texts"] - row["kept"]
        body.append([DATASETS[row["dataset"]], ENCODERS[row["encoder"]], f"{row['threshold']:g}",
                     f"{row['n_texts']:,}", _percent(row["kept_fraction"]), peer,
                     _percent(row["dropped_identical_text"] / max(dropped, 1), 0),
                     f"{row['embed_cpu_seconds']:.0f} + {row['dedup_cpu_seconds']:.0f}"])
    return table(["data", "embeddings", "threshold", "texts", "kept", "SemHash kept", "drops with identical text",
                  "CPU-seconds: embedding + deduplication"], body) + "\n\n" + wrap(
        "Kept: the share of texts that are not near-duplicates of an earlier kept text (greedy, in file order). "
        "Drops with identical text: the share of dropped texts that are character-for-character their kept "
        "text. All-MiniLM-L6-v2 embeddings run on the CPU, cached between thresholds.")


def real_examples(dataset: str, threshold: float = 0.95, encoder: str = "static") -> str:
    """A few seeded dropped texts beside the text they repeat (drops whose text differs)."""
    frame = rows(REAL)
    row = frame[(frame.tool == "greennlp") & (frame.dataset == dataset) & (frame.threshold == threshold)
                & (frame.encoder == encoder)].iloc[0]

    def short(text: str) -> str:
        text = " ".join(text.split()).replace("|", "\\|")
        return text if len(text) <= 110 else text[:107] + "..."

    body = [[short(e["dropped"]), short(e["kept"]), f"{e['similarity']:.3f}"] for e in row["examples"]]
    return table(["dropped", "repeats (kept)", "cosine"], body)


def sst2_kept(threshold: float) -> str:
    """Inline: the share of SST-2 train kept at ``threshold`` with the static model."""
    frame = rows(REAL)
    row = frame[(frame.tool == "greennlp") & (frame.dataset == "sst2") & (frame.threshold == threshold)
                & (frame.encoder == "static")].iloc[0]
    return _percent(row["kept_fraction"])


def scaling_source() -> str:
    return provenance(SCALING)


def scaling_table() -> str:
    """CPU time of every pair against the partition, per corpus size, and how the decisions agree."""
    frame = rows(SCALING)
    body = []
    for _, row in frame.iterrows():
        body.append([f"{row['n_texts']:,}", row["mode"], f"{row['dedup_cpu_seconds']:.1f}",
                     _percent(row["kept_fraction"], 2), f"{row['agree_with_every_pair']:.4f}",
                     f"{row['extra_kept']:,}", "yes" if row["exact"] else "no"])
    first = frame.iloc[0]
    return table(["texts", "comparisons", "CPU-seconds (deduplication)", "kept", "decisions equal to every pair",
                  "texts kept that every pair drops", "same decisions as every pair"], body) + "\n\n" + wrap(
        f"Growing prefixes of one seeded shuffle of {first['n_embedded']:,} real texts (SST-2 train, IMDB train and "
        f"test, WikiText-2 train lines), static model, threshold {first['threshold']:g}. Embedding all of them "
        f"took {first['embed_cpu_seconds_all']:.0f} CPU-seconds, once. The partition has one cell per 16,384 texts "
        "(at least 2) and compares each text with its 4 nearest cells.")


def train_source() -> str:
    return provenance(TRAIN)


def train_table() -> str:
    """SST-2 dev accuracy per training subset (mean ± std over seeds), its price, and the paired differences.

    The price is the training examples seen (examples × epochs, every run has the same epochs) over the 100% run's,
    plus the selection's CPU time: wall-clock training times are in the raw rows, but runs that shared the machine
    with other work make them no fair price."""
    frame = rows(TRAIN)
    full = frame[frame.subset == "100%"]
    full_examples = float((full["size"] * full["epochs"]).mean())
    body = []
    for subset in dict.fromkeys(frame["subset"]):
        part = frame[frame.subset == subset]
        share = float((part["size"] * part["epochs"]).mean()) / full_examples
        select = part["select_cpu_seconds"].mean()
        body.append([subset, f"{int(part['size'].iloc[0]):,}", mean_std(part["sst2_dev"]), f"{share:.2f}x",
                     f"{select:.1f}" if select else "", ", ".join(str(s) for s in sorted(part["seed"]))])
    lines = [table(["training set", "examples", "SST-2 dev", "training examples seen vs 100%",
                    "selection CPU-seconds", "seeds"], body)]
    comparisons = []
    for subset in frame["subset"].unique():
        if not subset.startswith("dedup"):
            continue
        threshold = subset.split()[1]
        for baseline in (f"random {threshold}", "100%"):
            result = compare(frame, "sst2_dev", {"subset": subset}, {"subset": baseline})
            comparisons.append([f"{subset} − {baseline}", f"{difference(result)}", verdict(result),
                                f"{result.seeds_ahead}/{result.seeds}"])
    lines += ["", table(["comparison", "points [95% interval]", "verdict", "seeds ahead"], comparisons), "",
              wrap(f"{len(comparisons)} comparisons; intervals from a paired bootstrap over the 872 dev sentences "
                   "and the seeds. Price: the training examples seen (every run trains the same number of epochs) "
                   "as a share of the 100% run's, and the selection's CPU time (embedding the sample with the "
                   "static model and deduplicating it), which is all a deduplicated subset needs first.")]
    return "\n".join(lines)


FIGURES = {"injected.source": injected_source, "real.source": real_source, "real.table": real_table,
           "sst2_kept_095": partial(sst2_kept, 0.95), "sst2_kept_090": partial(sst2_kept, 0.9),
           "scaling.source": scaling_source, "scaling.table": scaling_table}
if (RESULTS / TRAIN).exists():  # training on less: placed once its rows exist
    FIGURES.update({"train.source": train_source, "train.table": train_table})
for _corpus in CORPORA:
    FIGURES[f"injected.{_corpus}"] = partial(injected_table, _corpus)
    FIGURES[f"injected.{_corpus}.kinds"] = partial(injected_by_kind, _corpus)
    FIGURES[f"injected.{_corpus}.vs_semhash"] = partial(versus_semhash, _corpus)
    FIGURES[f"injected.{_corpus}.goals"] = partial(goals, _corpus)
for _dataset in DATASETS:
    FIGURES[f"real.{_dataset}.examples"] = partial(real_examples, _dataset)
