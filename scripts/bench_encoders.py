"""Benchmark: training throughput and dev accuracy of miniature BERTs on SST-2 under four setups, same steps.

Setups, alternated within each round (order reversed every other round) so that load on a shared machine
hits them alike:
  run_glue  the HF run_glue default: pad every example to 128 tokens, fp32, random order
  careful   a careful user: dynamic padding (DataCollatorWithPadding), fp32, random order
  flags     encoders.efficient_training_args: + length grouping, bf16 autocast where it measures faster
            (as efficient_training_args decides it), fused AdamW
  greennlp  flags + the cheap data path: tokenize_dataset(group_by_length=batch size) fixes a length-grouped
            order once (the Trainer's sampler re-reads lengths row by row), read sequentially, and
            the library's padding collator; --compile adds torch.compile
Each run is priced with budgets.BudgetCallback. Afterwards the last `greennlp` model of each size is timed
at inference in fp32, bf16 and int8 (encoders.quantize_int8), alternated, with dev accuracy.
With --results, every training run and every inference variant is appended as one JSON row (settings, timings,
per-example dev correctness, provenance) for `make results`.

  PYTHONPATH=. nice -n 10 .venv/bin/python scripts/bench_encoders.py --sizes tiny mini --steps 150 --rounds 2 \
      --results docs/results/encoders_sst2.jsonl
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from accelerate.utils import extract_model_from_parallel  # noqa: E402
from transformers import (  # noqa: E402
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    default_data_collator,
)
from transformers.utils import logging as hf_logging  # noqa: E402

from greennlp.budgets import BudgetCallback  # noqa: E402
from greennlp.encoders import (  # noqa: E402
    accuracy,
    efficient_training_args,
    fine_tune,
    load_benchmark,
    load_encoder,
    load_tokenizer,
    quantize_int8,
    tokenize_dataset,
    train_wordpiece_tokenizer,
)
from greennlp.encoders.data import PaddingCollator  # noqa: E402  private: the library's padding collator
from greennlp.encoders.models import MINIATURE_SIZES  # noqa: E402  private: the sizes load_encoder builds from a config

SETUPS = ("run_glue", "careful", "flags", "greennlp")
INFERENCE_BATCH = 64


def build_data(setup: str, train, tokenizer):
    """Training set and collator as each setup would prepare them (tokenized before the clock starts); the
    greennlp setup's length-grouped order is fixed per run in main(), with that run's seed."""
    if setup == "greennlp":
        return None, PaddingCollator(tokenizer)
    padding = "max_length" if setup == "run_glue" else False
    encoded = train.map(lambda b: tokenizer(b["text"], padding=padding, max_length=128, truncation=True),
                        batched=True, remove_columns=["text"])
    collator = default_data_collator if setup == "run_glue" else DataCollatorWithPadding(tokenizer)
    return encoded.rename_column("label", "labels"), collator


def training_args(setup: str, output_dir: str, common: dict) -> TrainingArguments:
    if setup in ("run_glue", "careful"):
        return TrainingArguments(output_dir=output_dir, use_cpu=not torch.cuda.is_available(), **common)
    return efficient_training_args(output_dir, **common)  # common may carry bf16=False (--bf16 no)


def state_dict_mb(model: torch.nn.Module) -> float:
    """Size of ``model``'s state dict when serialized (MB); counts packed int8 weights correctly."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes / 2**20


def train_once(setup, size, tokenizer, data, dev_text, collator, args_common, seed, compile_model, workdir):
    model = load_encoder(size, num_labels=2, tokenizer=tokenizer, seed=seed)
    common = dict(args_common, seed=seed)
    if setup == "greennlp":
        common["train_sampling_strategy"] = "sequential"  # the order was length-grouped once, in tokenize_dataset
        common["torch_compile"] = compile_model
    args = training_args(setup, str(workdir / f"{Path(size).name}-{setup}"), common)
    budget = BudgetCallback(flop_steps=1, use_codecarbon=False, save=False, run_name=f"{size}-{setup}")
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=collator, callbacks=[budget])
    start, cpu_start = time.perf_counter(), time.process_time()
    trainer.train()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    correct = accuracy(trainer.model, tokenizer, dev_text, max_length=128, per_example=True)  # every setup alike
    tag = budget.price_tag_
    return {
        "size": size, "setup": setup, "seed": seed, "train_wall_s": wall, "train_cpu_s": cpu, "loop_wall_s": tag.wall_time_s,
        "examples": tag.examples_seen, "tokens": tag.tokens_seen, "padded_tokens": tag.padded_tokens_seen,
        "examples_per_s": tag.examples_seen / wall, "examples_per_cpu_s": tag.examples_seen / cpu, "tokens_per_s": tag.tokens_seen / wall,
        "train_flops": tag.train_flops, "dev_accuracy": float(correct.mean()), "bf16": bool(args.bf16),
        "correct": correct,
    }, trainer.model


@torch.no_grad()
def inference_pass(model, batches, autocast: bool) -> tuple[float, np.ndarray]:
    """Seconds for one pass over the dev batches, and each example's correctness (0/1, in batch order)."""
    model.eval()
    correct = []
    start = time.perf_counter()
    for batch in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        correct.append((logits.argmax(-1) == batch["labels"]).numpy())
    return time.perf_counter() - start, np.concatenate(correct).astype(np.int8)


def bench_inference(model, tokenizer, dev_text, rounds: int) -> list[dict]:
    model = extract_model_from_parallel(model, keep_fp32_wrapper=False).float().cpu()  # drop Trainer's autocast
    dev = tokenize_dataset(dev_text, tokenizer)
    order = np.argsort(dev["num_tokens"])  # length-sorted batches: what `encoders.embed` does at inference
    collate = PaddingCollator(tokenizer)
    batches = [collate([dev[int(i)] for i in order[s:s + INFERENCE_BATCH]])
               for s in range(0, len(order), INFERENCE_BATCH)]
    variants = {"fp32": (model, False), "bf16 autocast": (model, True), "int8 dynamic": (quantize_int8(model), False)}
    times = {name: [] for name in variants}
    correct = {}
    inference_pass(model, batches[:2], False)
    for round_index in range(rounds):
        names = list(variants) if round_index % 2 == 0 else list(reversed(variants))
        for name in names:
            variant_model, autocast = variants[name]
            seconds, in_batch_order = inference_pass(variant_model, batches, autocast)
            correct[name] = np.empty(len(order), dtype=np.int8)
            correct[name][order] = in_batch_order  # back to dev-set order, to pair variants example by example
            times[name].append(seconds)
    lengths = np.asarray(dev["num_tokens"])
    return [{"precision": name, "examples_per_s": len(dev) / statistics.median(times[name]),
             "dev_accuracy": float(correct[name].mean()), "size_mb": state_dict_mb(variants[name][0]),
             "rounds_s": times[name], "threads": torch.get_num_threads(), "batch_size": INFERENCE_BATCH,
             "max_length": 128, "examples": len(dev), "mean_tokens": float(lengths.mean()),
             "max_tokens": int(lengths.max()), "correct": correct[name]} for name in variants]


def markdown(results: list[dict], inference: dict[str, list[dict]], baselines=("run_glue", "careful")) -> str:
    lines = ["| size | setup | examples/s | tokens/s | x run_glue | x careful | dev acc (per round) | train FLOPs |",
             "|---|---|---|---|---|---|---|---|"]
    for size in dict.fromkeys(r["size"] for r in results):
        rows = [r for r in results if r["size"] == size]
        median = {s: statistics.median(r["examples_per_s"] for r in rows if r["setup"] == s)
                  for s in dict.fromkeys(r["setup"] for r in rows)}
        for setup, speed in median.items():
            runs = [r for r in rows if r["setup"] == setup]
            ratios = [f"{speed / median[b]:.2f}" if b in median else "" for b in baselines]
            accs = " / ".join(f"{r['dev_accuracy']:.3f}" for r in runs)
            tokens = statistics.median(r["tokens_per_s"] for r in runs)
            lines.append(f"| {size} | {setup} | {speed:.0f} | {tokens:.0f} | {ratios[0]} | {ratios[1]} | {accs} | "
                         f"{runs[0]['train_flops']:.3g} |")
    pairs = [(s, b) for s in SETUPS for b in baselines if s != b]
    lines += ["", "Side by side in each round (examples/s ratio; same seed for every setup of a round):", "",
              "| size | round | " + " | ".join(f"{s} / {b}" for s, b in pairs) + " |", "|---|---|" + "---|" * len(pairs)]
    for size in dict.fromkeys(r["size"] for r in results):
        for round_index in sorted({r["round"] for r in results if r["size"] == size}):
            speed = {r["setup"]: r["examples_per_s"] for r in results if r["size"] == size and r["round"] == round_index}
            cells = [f"{speed[s] / speed[b]:.2f}" if s in speed and b in speed else "" for s, b in pairs]
            lines.append(f"| {size} | {round_index} | " + " | ".join(cells) + " |")
    for size, rows in inference.items():
        lines += ["", f"Inference, {size} (dev set, batches of 64, length-sorted):", "",
                  "| precision | examples/s (median) | seconds per round | dev accuracy | state dict MB |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['precision']} | {r['examples_per_s']:.0f} | {' / '.join(f'{t:.2f}' for t in r['rounds_s'])} | "
                  f"{r['dev_accuracy']:.4f} | {r['size_mb']:.1f} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "mini"],
                        help="miniature sizes (trained from scratch) or hub ids / paths of pretrained encoders")
    parser.add_argument("--setups", nargs="+", default=list(SETUPS), choices=SETUPS)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--warmup", type=float, default=0,
                        help="linear warm-up: steps, or a fraction of the steps when < 1 (TrainingArguments.warmup_steps)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of all setups, order alternating")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of round 0 (round r uses first seed + r)")
    parser.add_argument("--once", nargs="+", default=[], choices=SETUPS, metavar="SETUP",
                        help="setups trained in the first round only (e.g. run_glue: its batches are careful's, "
                        "padded to 128, so a second seed of it costs the most and says the least)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--bf16", choices=["auto", "no"], default="auto",
                        help="flags/greennlp: bf16 autocast where efficient_training_args measures it faster (auto) or fp32 (no)")
    parser.add_argument("--shuffle-batches", action="store_true",
                        help="greennlp: shuffle the order of the length-grouped batches (no length trend across steps)")
    parser.add_argument("--megabatch-batches", type=int, default=50,
                        help="greennlp: length-sort within mega-batches of this many batches (fewer: more varied "
                        "batches, more padding; encoders.length_grouped_order)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the greennlp setup")
    parser.add_argument("--data", default=None, help="folder with sst2/ (default $GREENNLP_DATA_DIR or the hub)")
    parser.add_argument("--inference-only", type=int, metavar="N", default=0,
                        help="skip the training comparison: fine-tune each size on N SST-2 examples (random order, "
                        "--epochs) with encoders.fine_tune, then time inference in fp32 / bf16 / int8")
    parser.add_argument("--epochs", type=float, default=2, help="epochs for --inference-only")
    parser.add_argument("--inference-rounds", type=int, default=3)
    parser.add_argument("--output-dir", default="runs/bench_encoders")
    parser.add_argument("--results", type=Path, default=None,
                        help="JSONL file to append one row per training run and per inference variant to (with "
                        "per-example dev correctness and provenance), e.g. docs/results/encoders_sst2_tiny.jsonl")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()
    workdir = Path(args.output_dir)
    train = load_benchmark("sst2", "train", args.data)
    dev_text = load_benchmark("sst2", "dev", args.data)
    trained = {}

    def tokenizer_for(size: str):
        """A miniature size trains from scratch with a WordPiece vocabulary trained on SST-2 (once, on first
        use); a hub id or path (e.g. sentence-transformers/all-MiniLM-L6-v2) fine-tunes its pretrained weights
        with its own tokenizer."""
        if size not in MINIATURE_SIZES:
            return load_tokenizer(size)
        if "wordpiece" not in trained:
            trained["wordpiece"] = train_wordpiece_tokenizer(train["text"], vocab_size=args.vocab_size)
        return trained["wordpiece"]

    common = dict(**({"bf16": False} if args.bf16 == "no" else {}), max_steps=args.steps, per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=128,
                  learning_rate=args.learning_rate, warmup_steps=int(args.warmup) if args.warmup >= 1 else args.warmup, logging_strategy="no", save_strategy="no",
                  eval_strategy="no", report_to="none", disable_tqdm=True, dataloader_num_workers=0)
    results, inference, last_model = [], {}, {}
    if args.inference_only:
        subset = train.shuffle(seed=0).select(range(args.inference_only))
        for size in args.sizes:
            tokenizer = tokenizer_for(size)
            model = load_encoder(size, num_labels=2, tokenizer=tokenizer, seed=0)
            trainer = fine_tune(model, tokenizer, subset, str(workdir / f"{Path(size).name}-inference"), epochs=args.epochs,
                                learning_rate=args.learning_rate, batch_size=args.batch_size,
                                train_sampling_strategy="random")
            inference[size] = bench_inference(trainer.model, tokenizer, dev_text, rounds=args.inference_rounds)
            record_inference(args, size, inference[size], f"fine_tune on {args.inference_only} SST-2 train "
                             f"examples, {args.epochs:g} epochs, random order, seed 0")
            print(json.dumps(inference[size], default=_plain), flush=True)
        write_report(workdir / "results.json",
                     {"command_args": vars(args), "threads": torch.get_num_threads(), "inference": inference})
        print(markdown([], inference))
        return
    for size in args.sizes:
        tokenizer = tokenizer_for(size)
        data = {setup: build_data(setup, train, tokenizer) for setup in args.setups}
        for round_index in range(args.rounds):
            setups = args.setups if round_index % 2 == 0 else list(reversed(args.setups))
            if round_index > 0:
                setups = [setup for setup in setups if setup not in args.once]
            for setup in setups:
                train_data, collator = data[setup]
                if setup == "greennlp":  # the length-grouped order, fixed once with this round's seed
                    train_data = tokenize_dataset(train, tokenizer, max_length=128, group_by_length=args.batch_size,
                                                  seed=args.first_seed + round_index,
                                                  megabatch_batches=args.megabatch_batches,
                                                  shuffle_batches=args.shuffle_batches)
                row, model = train_once(setup, size, tokenizer, train_data, dev_text, collator, common, seed=args.first_seed + round_index,
                                        compile_model=args.compile, workdir=workdir)
                row["round"] = round_index
                results.append(row)
                record_training(args, row)
                print(json.dumps({k: v for k, v in row.items() if k != "correct"}), flush=True)
                if setup == "greennlp":
                    last_model[size] = model
        if size in last_model:
            inference[size] = bench_inference(last_model[size], tokenizer, dev_text, rounds=args.inference_rounds)
            last = max(r["round"] for r in results if r["size"] == size and r["setup"] == "greennlp")
            record_inference(args, size, inference[size], f"the greennlp setup's model of round {last} (seed "
                             f"{args.first_seed + last}, {args.steps} steps)")
            print(json.dumps(inference[size], default=_plain), flush=True)
    report = {"command_args": vars(args), "threads": torch.get_num_threads(), "train": results, "inference": inference}
    write_report(workdir / "results.json", report)
    print(markdown(results, inference))


def _plain(value):
    """JSON for what json cannot write itself: per-example correctness arrays as lists of 0/1."""
    return value.tolist() if isinstance(value, np.ndarray) else str(value)


def _settings(args) -> dict:
    return {"steps": args.steps, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
            "warmup": args.warmup, "threads": torch.get_num_threads(), "shuffle_batches": args.shuffle_batches,
            "megabatch_batches": args.megabatch_batches, "vocab_size": args.vocab_size}


def record_training(args, row: dict) -> None:
    """Append one training run to --results: its settings, timings, price tag and per-example dev correctness."""
    if args.results is None:
        return
    from common import append_jsonl, correctness, provenance  # scripts/common.py, on the path when run as a script

    record = {"kind": "train", **_settings(args), **{k: v for k, v in row.items() if k != "correct"},
              "correct": {"sst2-dev": correctness(row["correct"])}, "run": provenance()}
    append_jsonl(args.results, record)


def record_inference(args, size: str, rows: list[dict], model: str) -> None:
    """Append each inference variant to --results: what was timed (model, threads, batch, lengths) and how."""
    if args.results is None:
        return
    from common import append_jsonl, correctness, provenance

    for row in rows:
        record = {"kind": "inference", "size": size, "model": model, "eval_set": "sst2-dev",
                  **{k: v for k, v in row.items() if k != "correct"},
                  "correct": {"sst2-dev": correctness(row["correct"])}, "run": provenance()}
        append_jsonl(args.results, record)


def write_report(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=_plain) + "\n")


if __name__ == "__main__":
    main()
