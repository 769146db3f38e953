"""Semantic deduplication benchmarks: injected near-duplicates against SemHash and datatrove's MinHash, and what
deduplication finds in real data. Writes one JSONL row per tool, corpus and threshold (with provenance).

    # a static model distilled from all-MiniLM-L6-v2 (scripts/distill_static.py, in its own environment)
    python scripts/bench_dedup.py injected --static runs/static-minilm --results docs/results/dedup_injected.jsonl
    python scripts/bench_dedup.py real --static runs/static-minilm --results docs/results/dedup_real.jsonl
    python scripts/bench_dedup.py scaling --static runs/static-minilm --results docs/results/dedup_scaling.jsonl
    python scripts/bench_dedup.py train --static runs/static-minilm --seeds 0 --results docs/results/dedup_train.jsonl

Speed is documents per CPU-second (process CPU time over all threads: documents per second per core), with
embedding and model loading included for the embedding tools. Needs ``semhash`` (peer) and ``datatrove``.
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import append_jsonl, provenance  # noqa: E402

from greennlp.encoders import load_benchmark  # noqa: E402
from greennlp.filters import SemanticDeduplicator  # noqa: E402

KINDS = ("word_drop", "word_swap", "case", "punctuation", "sentence_removed")
_PUNCTUATION = re.compile(r"[^\w\s]")


def peer_versions() -> dict:
    """Versions of the packages the peers and the static model need (not in the common provenance)."""
    from importlib import metadata

    versions = {}
    for name in ("model2vec", "semhash", "vicinity", "usearch"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def static_about(folder: Path) -> dict:
    """How the static model was distilled (written by scripts/distill_static.py)."""
    about = Path(folder) / "greennlp_distill.json"
    return json.loads(about.read_text()) if about.is_file() else {"folder": str(folder)}


def cpu_seconds() -> float:
    """CPU time of this process and its finished children, all threads."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def normalised(text: str) -> str:
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


# -- the corpus with injected near-duplicates --------------------------------------------------------------------
def perturb(text: str, kind: str, rng: np.random.Generator) -> str:
    """One near-copy of ``text``: a few words dropped or swapped, case or punctuation changed, a sentence removed."""
    words = text.split()
    if kind == "word_drop":
        drop = set(rng.choice(len(words), size=max(1, round(0.05 * len(words))), replace=False).tolist())
        return " ".join(w for i, w in enumerate(words) if i not in drop)
    if kind == "word_swap":
        for i in rng.choice(max(len(words) - 1, 1), size=max(1, round(0.025 * len(words))), replace=False):
            if i + 1 < len(words):
                words[i], words[i + 1] = words[i + 1], words[i]
        return " ".join(words)
    if kind == "case":
        if text != text.lower():
            return text.lower()
        return " ".join(w.capitalize() if rng.random() < 0.5 else w for w in words)
    if kind == "punctuation":
        stripped = "".join(c for c in text if not (_PUNCTUATION.match(c) and rng.random() < 0.5))
        return " ".join(stripped.split()) + " !!"
    if kind == "sentence_removed":
        sentences = re.split(r"(?<=[.!?])\s+", text.strip())
        sentences = [s for s in sentences if s]
        if len(sentences) >= 2:
            del sentences[int(rng.integers(len(sentences)))]
            return " ".join(sentences)
        # one sentence: its last clause (after the last comma), or else its last third of words
        if " , " in text or ", " in text:
            return text[:text.rstrip().rfind(",")].rstrip()
        return " ".join(words[:max(1, len(words) - max(1, len(words) // 3))])
    raise ValueError(kind)


def injected_corpus(name: str, size: int | None, copies: int, seed: int):
    """Distinct base texts (exact and normalised-text duplicates removed) plus ``copies`` near-copies of randomly
    chosen ones at random positions. Returns texts, group (the base text each copy repeats; its own index for
    base texts) and kind (None for base texts)."""
    split = "all" if name == "cr" else "test"
    texts = list(load_benchmark(name, split)["text"])
    rng = np.random.default_rng(seed)
    if size is not None and size < len(texts):
        texts = [texts[i] for i in np.sort(rng.choice(len(texts), size=size, replace=False))]
    seen, base = set(), []
    for text in texts:
        key = normalised(text)
        if key and key not in seen:
            seen.add(key)
            base.append(text)
    originals = rng.choice(len(base), size=copies, replace=False)
    made = []
    for number, original in enumerate(originals):
        kind = KINDS[number % len(KINDS)]
        copy = perturb(base[original], kind, rng)
        if copy == base[original] or not copy.strip():
            copy = base[original] + " !"
        made.append((copy, int(original), kind))
    # every copy at a random position among the base texts
    slots = rng.permutation(len(base) + copies)
    texts, group, kinds = [None] * len(slots), np.empty(len(slots), dtype=np.int64), [None] * len(slots)
    base_positions = np.sort(slots[:len(base)])
    for text, position in zip(base, base_positions, strict=True):
        texts[position] = text
    for position, (copy, original, kind) in zip(np.sort(slots[len(base):]), made, strict=True):
        texts[position], kinds[position] = copy, kind
        group[position] = base_positions[original]
    group[base_positions] = base_positions
    return texts, group, kinds


def scores(dropped: np.ndarray, group: np.ndarray, kinds: list) -> dict:
    """Precision and recall of a dropped set when each group (a base text and its copies) should keep exactly one
    member, whichever: a drop is correct while its group still has another member, otherwise it is a false drop."""
    n = len(group)
    is_dropped = np.zeros(n, dtype=bool)
    is_dropped[dropped] = True
    sizes = np.bincount(group, minlength=n)
    dropped_per_group = np.bincount(group, weights=is_dropped, minlength=n).astype(int)
    correct = np.minimum(dropped_per_group, np.maximum(sizes - 1, 0))
    false = dropped_per_group - correct
    copies = int((sizes - 1).clip(0).sum())
    singletons = sizes == 1
    kinds = np.array([k or "" for k in kinds])
    by_kind = {}
    for kind in KINDS:
        members = group[kinds == kind]  # the groups of this kind's copies (one copy per group)
        by_kind[kind] = float(np.mean(correct[members] >= 1)) if len(members) else None
    injected_groups = np.flatnonzero(sizes > 1)  # ascending: the same order for every tool
    base_texts = np.flatnonzero(sizes >= 1)
    return {"dropped": int(is_dropped.sum()), "correct": int(correct.sum()), "false_drops": int(false.sum()),
            # per example, for paired comparisons between tools: each injected group caught (1) or not, and each
            # base text's group dropped too much (1) or not
            "caught": (correct[injected_groups] >= 1).astype(int).tolist(),
            "over_dropped": (false[base_texts] >= 1).astype(int).tolist(),
            "precision": float(correct.sum() / max(is_dropped.sum(), 1)), "recall": float(correct.sum() / copies),
            "other_dropped": float(false.sum() / max((sizes >= 1).sum(), 1)),
            "distinct_dropped": float(is_dropped[np.flatnonzero(singletons)].mean()), "recall_by_kind": by_kind}


# -- the tools ---------------------------------------------------------------------------------------------------
def run_greennlp(texts, threshold, static):
    dedup = SemanticDeduplicator(threshold, encoder=static, cache_dir=False, progress=False).fit(texts)
    return np.flatnonzero(~dedup.keep_)


def run_semhash(texts, threshold, static):
    from model2vec import StaticModel
    from semhash import SemHash

    model = StaticModel.from_pretrained(static, force_download=False)
    records = [{"id": str(i), "text": text} for i, text in enumerate(texts)]
    result = SemHash.from_records(records, columns=["text"], model=model).self_deduplicate(threshold=threshold)
    return np.sort(np.array([int(d.record["id"]) for d in result.filtered], dtype=np.int64))


def run_minhash(texts, threshold, static):
    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.utils.hashing import HashConfig

    # datatrove's defaults (5-grams, 14 buckets of 8 hashes, 64 bits) but sha1: its xxhash path passes str, which
    # xxhash 4.1 refuses ("Strings must be encoded before hashing")
    config = MinhashConfig(hash_config=HashConfig(hash_fc="sha1"))
    kept = []

    def documents():
        return [Document(text=text, id=str(i)) for i, text in enumerate(texts)]

    def collect(data, rank=0, world_size=1):
        for doc in data:
            kept.append(int(doc.id))
        yield from ()

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        stages = [
            [documents(), MinhashDedupSignature(str(folder / "signatures"), config=config)],
            [MinhashDedupBuckets(str(folder / "signatures"), str(folder / "buckets"), config=config)],
            [MinhashDedupCluster(str(folder / "buckets"), str(folder / "remove"), config=config)],
            [documents(), MinhashDedupFilter(str(folder / "remove")), collect],
        ]
        for number, pipeline in enumerate(stages):
            tasks = config.num_buckets if number == 1 else 1
            LocalPipelineExecutor(pipeline, tasks=tasks, workers=1, logging_dir=str(folder / f"logs{number}"),
                                  skip_completed=False).run()
    return np.setdiff1d(np.arange(len(texts)), np.array(kept, dtype=np.int64))


TOOLS = {"greennlp": run_greennlp, "semhash": run_semhash, "datatrove-minhash": run_minhash}


def injected(args) -> None:
    for corpus, size in (("cr", None), ("imdb", args.imdb_size)):
        texts, group, kinds = injected_corpus(corpus, size, args.copies, args.seed)
        print(f"{corpus}: {len(texts)} texts, {args.copies} injected copies", flush=True)
        for tool, function in TOOLS.items():
            for threshold in ([None] if tool == "datatrove-minhash" else args.thresholds):
                for repeat in range(args.repeats):
                    start, wall = cpu_seconds(), time.perf_counter()
                    dropped = function(texts, threshold, str(args.static))
                    cpu, wall = cpu_seconds() - start, time.perf_counter() - wall
                    row = {"corpus": corpus, "tool": tool, "threshold": threshold, "repeat": repeat,
                           "n_texts": len(texts), "copies": args.copies, "seed": args.seed,
                           "encoder": None if tool == "datatrove-minhash" else "static all-MiniLM-L6-v2 (PCA 256)",
                           **scores(dropped, group, kinds), "cpu_seconds": cpu, "wall_seconds": wall,
                           "docs_per_cpu_second": len(texts) / cpu, "dropped_ids": dropped.tolist(),
                           "run": provenance(), "peer_versions": peer_versions(),
                           "static_model": static_about(args.static)}
                    append_jsonl(args.results, row)
                    print(f"  {tool} {threshold}: precision {row['precision']:.3f} recall {row['recall']:.3f} "
                          f"other dropped {row['other_dropped']:.4f} {row['docs_per_cpu_second']:.0f} docs/cpu-s",
                          flush=True)


# -- real data ---------------------------------------------------------------------------------------------------
def real(args) -> None:
    from greennlp.encoders.models import DEFAULT_PRETRAINED

    sets = {"sst2": ("sst2", "train"), "imdb": ("imdb", "train"), "wikitext2": ("wikitext2", "train")}
    for name in args.datasets:
        texts = list(load_benchmark(*sets[name])["text"])
        encoders = [("static", str(args.static))] + ([("minilm", DEFAULT_PRETRAINED)] if name in args.minilm else [])
        for encoder_name, encoder in encoders:
            start = cpu_seconds()
            vectors = SemanticDeduplicator(encoder=encoder, cache_dir=args.cache, progress=False)._embeddings(texts)
            embed_cpu = cpu_seconds() - start
            for threshold in args.thresholds:
                start = cpu_seconds()
                dedup = SemanticDeduplicator(threshold, progress=False).fit(vectors)
                dedup_cpu = cpu_seconds() - start
                keep, duplicate_of = dedup.keep_, dedup.duplicate_of_
                groups = np.bincount(duplicate_of[~keep], minlength=len(texts))
                exact_text = sum(texts[i] == texts[duplicate_of[i]] for i in np.flatnonzero(~keep))
                contained = sum(normalised(texts[i]) in normalised(texts[duplicate_of[i]])
                                or normalised(texts[duplicate_of[i]]) in normalised(texts[i])
                                for i in np.flatnonzero(~keep))
                # a few seeded examples among the drops whose text differs from the kept one
                rng = np.random.default_rng(args.seed)
                different = [i for i in np.flatnonzero(~keep) if texts[i] != texts[duplicate_of[i]]]
                unit = dedup.embeddings_
                examples = [{"dropped": texts[i], "kept": texts[duplicate_of[i]],
                             "similarity": float(unit[i] @ unit[duplicate_of[i]])}
                            for i in sorted(rng.choice(different, size=min(5, len(different)), replace=False))]
                largest = np.argsort(-groups, kind="stable")[:3]
                row = {"dataset": name, "tool": "greennlp", "encoder": encoder_name, "threshold": threshold,
                       "n_texts": len(texts), "kept": int(keep.sum()), "kept_fraction": float(keep.mean()),
                       "exact": bool(dedup.exact_), "dropped_identical_text": int(exact_text),
                       "dropped_contained_text": int(contained),
                       "largest_groups": [{"kept": texts[i], "size": int(groups[i]) + 1} for i in largest],
                       "examples": examples, "embed_cpu_seconds": embed_cpu, "dedup_cpu_seconds": dedup_cpu,
                       "seed": args.seed, "run": provenance(), "peer_versions": peer_versions(),
                           "static_model": static_about(args.static)}
                append_jsonl(args.results, row)
                print(f"{name} {encoder_name} {threshold}: keeps {keep.mean():.3f} ({embed_cpu:.0f} s embedding, "
                      f"{dedup_cpu:.0f} s deduplication)", flush=True)
            if encoder_name == "static" and args.semhash:
                for threshold in args.thresholds:
                    start = cpu_seconds()
                    dropped = run_semhash(texts, threshold, str(args.static))
                    row = {"dataset": name, "tool": "semhash", "encoder": encoder_name, "threshold": threshold,
                           "n_texts": len(texts), "kept": len(texts) - len(dropped),
                           "kept_fraction": 1 - len(dropped) / len(texts), "cpu_seconds": cpu_seconds() - start,
                           "seed": args.seed, "run": provenance(), "peer_versions": peer_versions(),
                           "static_model": static_about(args.static)}
                    append_jsonl(args.results, row)
                    print(f"{name} semhash {threshold}: keeps {row['kept_fraction']:.3f}", flush=True)


# -- time against corpus size ------------------------------------------------------------------------------------
def scaling(args) -> None:
    """Every pair (one cell) against the default above 131,072 texts (cells, 4 probed), on growing prefixes of one
    shuffled corpus of real texts: CPU time and how many decisions agree."""
    texts = (list(load_benchmark("sst2", "train")["text"]) + list(load_benchmark("imdb", "train")["text"])
             + list(load_benchmark("imdb", "test")["text"]) + list(load_benchmark("wikitext2", "train")["text"]))
    texts = [texts[i] for i in np.random.default_rng(args.seed).permutation(len(texts))]
    start = cpu_seconds()
    vectors = SemanticDeduplicator(encoder=str(args.static), cache_dir=False, progress=False)._embeddings(texts)
    embed_cpu = cpu_seconds() - start
    for size in args.sizes:
        size = min(size, len(texts))
        results = {}
        for mode, options in (("every pair", {"n_cells": 1, "n_probe": None}),
                              ("cells, 4 probed", {"n_cells": max(size // 16_384, 2), "n_probe": 4})):
            start = cpu_seconds()
            dedup = SemanticDeduplicator(args.threshold, progress=False, **options).fit(vectors[:size])
            results[mode] = (dedup, cpu_seconds() - start)
        exact = results["every pair"][0]
        for mode, (dedup, cpu) in results.items():
            row = {"mode": mode, "n_texts": size, "threshold": args.threshold, "n_cells": dedup.get_params()["n_cells"],
                   "kept_fraction": float(dedup.keep_.mean()), "exact": bool(dedup.exact_), "dedup_cpu_seconds": cpu,
                   "embed_cpu_seconds_all": embed_cpu, "n_embedded": len(texts),
                   "agree_with_every_pair": float((dedup.keep_ == exact.keep_).mean()),
                   "extra_kept": int((dedup.keep_ & ~exact.keep_).sum()), "seed": args.seed, "run": provenance(),
                   "peer_versions": peer_versions(), "static_model": static_about(args.static)}
            append_jsonl(args.results, row)
            print(f"{size} {mode}: {cpu:.0f} s, keeps {dedup.keep_.mean():.3f}, agrees "
                  f"{row['agree_with_every_pair']:.4f}", flush=True)


# -- training on less -------------------------------------------------------------------------------------------
def train(args) -> None:
    """all-MiniLM-L6-v2 fine-tuned on a seeded SST-2 sample, on its deduplication, and on a random subset of the
    deduplication's size; SST-2 dev correctness per example, for paired intervals. Resumes: rows already in the
    results file (same seed and subset) are skipped."""
    from common import correctness, read_jsonl

    from greennlp.encoders import accuracy, fine_tune, load_encoder, load_tokenizer
    from greennlp.encoders.models import DEFAULT_PRETRAINED
    from greennlp.filters import select_random

    sample = load_benchmark("sst2", "train", limit=args.train_size, seed=0)
    dev = load_benchmark("sst2", "dev")
    done = {(row["seed"], row["subset"]) for row in read_jsonl(args.results)}
    start = cpu_seconds()
    wall = time.perf_counter()
    vectors = SemanticDeduplicator(encoder=str(args.static), cache_dir=False, progress=False)._embeddings(
        list(sample["text"]))
    subsets = {"100%": (sample, 0.0, 0.0)}
    for threshold in args.thresholds:
        dedup = SemanticDeduplicator(threshold, progress=False).fit(vectors)
        # the price of choosing: embedding (shared by the thresholds, counted in full for each) and deduplication
        subsets[f"dedup {threshold:g}"] = (dedup.transform(sample), cpu_seconds() - start,
                                           time.perf_counter() - wall)
    sizes = {name: len(subset) for name, (subset, _, _) in subsets.items()}
    tokenizer = load_tokenizer(DEFAULT_PRETRAINED)
    for seed in args.seeds:
        plan = dict(subsets)
        for threshold in args.thresholds:
            size = sizes[f"dedup {threshold:g}"]
            plan[f"random {threshold:g}"] = (select_random(sample, size / len(sample), seed=seed), 0.0, 0.0)
        for name, (subset, select_cpu, select_wall) in plan.items():
            if (seed, name) in done:
                continue
            print(f"== seed {seed}: {name} ({len(subset):,} examples)", flush=True)
            model = load_encoder(DEFAULT_PRETRAINED, num_labels=2, seed=seed)
            began = time.perf_counter()
            trainer = fine_tune(model, tokenizer, subset, epochs=args.epochs, learning_rate=args.learning_rate,
                                batch_size=args.batch_size, max_length=args.max_length, seed=seed)
            train_seconds = time.perf_counter() - began
            correct = accuracy(trainer.model, tokenizer, dev, per_example=True, max_length=args.max_length)
            row = {"seed": seed, "subset": name, "size": len(subset), "sample": len(sample),
                   "epochs": args.epochs, "learning_rate": args.learning_rate, "train_seconds": train_seconds,
                   "select_cpu_seconds": select_cpu, "select_wall_seconds": select_wall,
                   "sst2_dev": float(correct.mean()), "correct": {"sst2_dev": correctness(correct)},
                   "run": provenance(), "peer_versions": peer_versions(), "static_model": static_about(args.static)}
            append_jsonl(args.results, row)
            print(f"   dev {row['sst2_dev']:.3f} in {train_seconds:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("injected", "real", "scaling", "train"):
        command = sub.add_parser(name)
        command.add_argument("--static", type=Path, required=True, help="folder of a model2vec static model")
        command.add_argument("--results", type=Path, required=True)
        command.add_argument("--seed", type=int, default=0)
    injected_parser, real_parser = sub.choices["injected"], sub.choices["real"]
    injected_parser.add_argument("--thresholds", type=float, nargs="+", default=[0.9, 0.95])
    injected_parser.add_argument("--copies", type=int, default=400)
    injected_parser.add_argument("--imdb-size", type=int, default=2000)
    injected_parser.add_argument("--repeats", type=int, default=1, help="timed runs of each tool")
    real_parser.add_argument("--thresholds", type=float, nargs="+", default=[0.8, 0.9, 0.95, 0.99])
    real_parser.add_argument("--datasets", nargs="+", default=["sst2", "imdb", "wikitext2"])
    real_parser.add_argument("--minilm", nargs="*", default=["sst2"], help="data sets also embedded with MiniLM")
    real_parser.add_argument("--semhash", action="store_true", help="also SemHash with the static model")
    real_parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder (MiniLM)")
    train_parser = sub.choices["train"]
    train_parser.add_argument("--train-size", type=int, default=10_000, help="seeded SST-2 train sample")
    train_parser.add_argument("--thresholds", type=float, nargs="+", default=[0.8])
    train_parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    train_parser.add_argument("--epochs", type=float, default=2)
    train_parser.add_argument("--learning-rate", type=float, default=5e-5)
    train_parser.add_argument("--batch-size", type=int, default=32)
    train_parser.add_argument("--max-length", type=int, default=64)
    scaling_parser = sub.choices["scaling"]
    scaling_parser.add_argument("--threshold", type=float, default=0.95)
    scaling_parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 40_000, 80_000, 160_000])
    args = parser.parse_args()
    from loguru import logger  # datatrove's logger: its per-task reports would bury ours

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    {"injected": injected, "real": real, "scaling": scaling, "train": train}[args.command](args)


if __name__ == "__main__":
    main()
