"""Pretrain a miniature BERT from scratch with random, whole-word or content-word masking.

Readable top to bottom: data (tag -> pack) -> model -> loop -> checkpoints. The fast loop computes the
MLM head only at masked positions (as Cramming and MosaicBERT do), trains on packed sequences (no padding),
uses fused sdpa attention and bf16 autocast where the CPU/GPU has native bf16. ``--loop plain`` is the
textbook ``BertForMaskedLM(**batch)`` + HF collator loop on padded lines, for comparison;
``--benchmark-loops N`` times both side by side and exits.

    PYTHONPATH=. GREENNLP_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 python scripts/pretrain_mlm.py \\
        --masking content --steps 4000 --output-dir runs/content-s0 --tokenizer runs/tokenizer

A corpus tagged and packed elsewhere (datatrove, see docs/scale.md) trains with ``--packed-shards FOLDER
--tokenizer TOKENIZER_FOLDER`` instead of ``--dataset``/``--data``.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import shutil
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from datasets import Dataset, load_from_disk
from transformers import DataCollatorForLanguageModeling

from greennlp.encoders import load_benchmark, load_encoder, load_tokenizer, train_wordpiece_tokenizer
from greennlp.encoders.models import (
    MINIATURE_SIZES,  # private: the miniature sizes load_encoder builds from a config
    bf16_supported,  # private: whether bf16 pays on a device (measured on CPU)
)
from greennlp.masking import ContentWordTagger, DataCollatorForContentMasking, add_content_word_mask
from greennlp.scale import load_packed_shards

# The strategies and budgets DataCollatorForContentMasking documents (it refuses anything else with the valid ones).
MASKING_STRATEGIES = ("random", "whole-word", "content")
BUDGETS = ("matched", "content")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")

PACKED_COLUMNS = ("input_ids", "special_tokens_mask", "content_word_mask", "word_ids", "offset_mapping")


# ----------------------------------------------------------------------------------------------- data
def load_texts(args) -> list[str]:
    if args.data:
        texts = []
        for path in args.data:
            texts += [line.strip() for line in Path(path).read_text(encoding="utf-8").split("\n") if line.strip()]
        return texts
    return load_benchmark(args.dataset, "train")["text"]


def get_tokenizer(args, texts):
    if args.tokenizer and Path(args.tokenizer).exists():
        # model_max_length only silences the "longer than 512" warning: documents are packed, not truncated
        return load_tokenizer(args.tokenizer, model_max_length=10**9)
    tokenizer = train_wordpiece_tokenizer(texts, vocab_size=args.vocab_size, model_max_length=10**9)
    if args.tokenizer:  # first run of an experiment: save it so that every run shares the vocabulary
        tokenizer.save_pretrained(args.tokenizer)
    return tokenizer


def pack(batch: dict[str, list], seq_len: int) -> dict[str, list]:
    """Concatenate tagged documents and cut them into blocks of ``seq_len`` tokens (remainder dropped).

    Documents keep their own [CLS] ... [SEP], so word groups never cross a document boundary.
    """
    columns = [c for c in PACKED_COLUMNS if c in batch]
    joined = {c: [x for row in batch[c] for x in row] for c in columns}
    n_blocks = len(joined["input_ids"]) // seq_len
    out = {c: [joined[c][i * seq_len:(i + 1) * seq_len] for i in range(n_blocks)] for c in columns}
    out["attention_mask"] = [[1] * seq_len for _ in range(n_blocks)]
    return out


def tagged_corpus(args, texts, tokenizer, packed: bool) -> Dataset:
    """Tag (and pack) the corpus once; cached in Arrow under --cache-dir, keyed by everything that matters."""
    key = hashlib.sha256(json.dumps([
        len(texts), texts[:3], texts[-3:], tokenizer.backend_tokenizer.to_str(), args.spacy_model,
        args.seq_len, packed, "v1"]).encode()).hexdigest()[:16]
    path = Path(args.cache_dir) / f"{args.dataset if not args.data else 'files'}-{'packed' if packed else 'lines'}-{key}"
    if path.exists():
        return load_from_disk(str(path))
    tagger = ContentWordTagger(args.spacy_model, n_process=args.spacy_processes)
    dataset = add_content_word_mask(Dataset.from_dict({"text": texts}), tokenizer, tagger,
                                    max_length=None if packed else args.seq_len, keep_offsets=True,
                                    remove_columns=["text"])
    if packed:
        dataset = dataset.map(pack, batched=True, fn_kwargs={"seq_len": args.seq_len},
                              remove_columns=dataset.column_names, desc="Packing")
    publish_folder(path, lambda folder: dataset.save_to_disk(str(folder)))
    return load_from_disk(str(path))


def packed_shards_corpus(args):
    """Blocks tagged and packed elsewhere (``greennlp.scale.ContentWordPacker`` on datatrove), with their tokenizer."""
    if args.loop != "fast":
        raise SystemExit("--packed-shards holds packed blocks, which only the fast loop trains on (--loop fast).")
    if not args.tokenizer or not Path(args.tokenizer).exists():
        raise SystemExit("--packed-shards needs --tokenizer: the folder of the tokenizer the shards were packed with.")
    tokenizer = load_tokenizer(args.tokenizer, model_max_length=10**9)
    dataset = load_packed_shards(args.packed_shards, cache_dir=Path(args.cache_dir) / "packed-shards")
    seq_len = len(dataset[0]["input_ids"])
    if seq_len != args.seq_len:
        print(f"--packed-shards: blocks hold {seq_len} tokens; using --seq-len {seq_len} (not {args.seq_len}).")
        args.seq_len = seq_len
    return tokenizer, dataset


# ----------------------------------------------------------------------------------------------- model
def masked_positions_loss(model, batch) -> tuple[torch.Tensor, int]:
    """MLM loss with the vocabulary projection computed only where labels != -100.

    A ``BertForMaskedLM`` computes (batch x length x vocab) logits; at 15% masking 85% of that work is
    thrown away. Here the encoder runs as usual and the head runs on the masked rows only.
    """
    hidden = model.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    labels = batch["labels"]
    selected = labels != -100
    logits = model.cls(hidden[selected])
    return F.cross_entropy(logits.float(), labels[selected]), int(selected.sum())


def full_logits_loss(model, batch) -> tuple[torch.Tensor, int]:
    """The textbook loop: ``BertForMaskedLM(**batch)`` with logits at every position."""
    output = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
    return output.loss, int((batch["labels"] != -100).sum())


def autocast(enabled: bool, device: torch.device):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def make_optimizer(model, lr: float, total_steps: int, warmup: float):
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=lr, betas=(0.9, 0.98), eps=1e-6)
    warmup_steps = max(1, int(warmup * total_steps))

    def schedule(step):  # linear warm-up, then linear decay to 0
        return min((step + 1) / warmup_steps, max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def batches(dataset, collator, batch_size: int, seed: int):
    """Endless shuffled batches, a new order each epoch."""
    epoch = 0
    while True:
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed + epoch)).tolist()
        for i in range(0, len(order) - batch_size + 1, batch_size):
            columns = dataset[order[i:i + batch_size]]  # one columnar read instead of batch_size row reads
            yield collator([{k: v[n] for k, v in columns.items()} for n in range(batch_size)])
        epoch += 1


# ----------------------------------------------------------------------------------------------- loops
def train(args) -> None:
    torch.manual_seed(args.seed)
    device = default_device()
    packed = args.loop == "fast"
    if args.packed_shards:
        tokenizer, dataset = packed_shards_corpus(args)
    else:
        texts = load_texts(args)
        tokenizer = get_tokenizer(args, texts)
        dataset = tagged_corpus(args, texts, tokenizer, packed=packed)
    tokens_per_step = args.batch_size * args.seq_len
    steps = args.steps or math.ceil(args.tokens / tokens_per_step)
    collator = DataCollatorForContentMasking(tokenizer, strategy=args.masking, mlm_probability=args.mlm_probability,
                                             budget=args.budget, seed=args.seed)
    if not packed:
        collator.pad_to_multiple_of = 8
    model = load_encoder(args.size, task="mlm", tokenizer=tokenizer, seed=args.seed).to(device)
    model.train()
    use_bf16 = {"auto": device.type == "cuda" and bf16_supported(device), "yes": True, "no": False}[args.bf16]
    loss_fn = masked_positions_loss if args.loop == "fast" else full_logits_loss
    optimizer, scheduler = make_optimizer(model, args.lr, steps, args.warmup)
    checkpoints = sorted({max(1, round(f * steps)) for f in args.checkpoints})
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out / "tokenizer")
    log = open(out / "log.jsonl", "w", encoding="utf-8")
    stream = batches(dataset, collator, args.batch_size, args.seed)
    start = time.perf_counter()
    seen_tokens = masked_tokens = 0
    running = []
    for step in range(1, steps + 1):
        batch = {k: v.to(device) for k, v in next(stream).items()}
        with autocast(use_bf16, device):
            loss, n_masked = loss_fn(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        seen_tokens += int(batch["attention_mask"].sum())
        masked_tokens += n_masked
        running.append(loss.item())
        if step % args.log_every == 0 or step in checkpoints:
            elapsed = time.perf_counter() - start
            record = {"step": step, "mlm_loss": sum(running) / len(running), "tokens": seen_tokens,
                      "masked_tokens": masked_tokens, "seconds": round(elapsed, 1),
                      "tokens_per_s": round(seen_tokens / elapsed), "lr": scheduler.get_last_lr()[0]}
            running = []
            log.write(json.dumps(record) + "\n")
            log.flush()
            print(json.dumps(record), flush=True)
        if step in checkpoints:
            publish_folder(out / f"step-{step}", model.save_pretrained)
    log.close()
    summary = {**{k: (v if not isinstance(v, Path) else str(v)) for k, v in vars(args).items()}, "total_steps": steps,
               "tokens": seen_tokens, "masked_tokens": masked_tokens, "seconds": round(time.perf_counter() - start, 1),
               "bf16": use_bf16, "device": str(device), "checkpoints": [f"step-{s}" for s in checkpoints]}
    write_json(out / "summary.json", summary)


def benchmark_loops(args) -> None:
    """tokens/s of the plain loop and of each speed-up added in turn, alternating variants round by round."""
    device = default_device()
    texts = load_texts(args)[: args.benchmark_texts]
    tokenizer = get_tokenizer(args, texts)
    lines = tagged_corpus(args, texts, tokenizer, packed=False)
    packed = tagged_corpus(args, texts, tokenizer, packed=True)
    hf = DataCollatorForLanguageModeling(tokenizer, mlm_probability=args.mlm_probability, pad_to_multiple_of=8, seed=0)
    plain_lines = lines.select_columns(["input_ids", "attention_mask", "special_tokens_mask"])
    plain_packed = packed.select_columns(["input_ids", "attention_mask", "special_tokens_mask"])
    bf16 = bf16_supported(device)
    variants = {  # name: (data, loss, bf16)
        "plain: BertForMaskedLM(**batch), padded lines, fp32": (plain_lines, full_logits_loss, False),
        "+ packing": (plain_packed, full_logits_loss, False),
        "+ head at masked positions only": (plain_packed, masked_positions_loss, False),
        "+ bf16 autocast (fast loop)": (plain_packed, masked_positions_loss, True),
    }
    if not bf16:
        del variants["+ bf16 autocast (fast loop)"]
    states = {}
    for name, (data, loss_fn, use_bf16) in variants.items():
        model = load_encoder(args.size, task="mlm", tokenizer=tokenizer, seed=0).to(device)
        optimizer, _ = make_optimizer(model, args.lr, 10**6, 0.0)
        states[name] = (model, optimizer, batches(data, hf, args.batch_size, 0), loss_fn, use_bf16)
    totals = {name: [0, 0.0] for name in variants}
    for round_index in range(args.benchmark_rounds + 1):  # round 0 warms up and is not counted
        for name, (model, optimizer, stream, loss_fn, use_bf16) in states.items():
            batch_list = [next(stream) for _ in range(args.benchmark_loops)]
            start = time.perf_counter()
            for batch in batch_list:
                with autocast(use_bf16, device):
                    loss, _ = loss_fn(model, batch)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            if round_index:
                totals[name][0] += sum(int(b["attention_mask"].sum()) for b in batch_list)
                totals[name][1] += time.perf_counter() - start
    base = totals[next(iter(totals))]
    result = {"size": args.size, "batch_size": args.batch_size, "seq_len": args.seq_len, "device": str(device),
              "threads": torch.get_num_threads(), "steps_per_round": args.benchmark_loops,
              "rounds": args.benchmark_rounds, "vocab_size": len(tokenizer),
              "tokens_per_s": {n: round(t / s) for n, (t, s) in totals.items()},
              "speedup_vs_plain": {n: round((t / s) / (base[0] / base[1]), 2) for n, (t, s) in totals.items()}}
    print(json.dumps(result, indent=2))
    if args.output_dir:
        write_json(Path(args.output_dir) / "loop_benchmark.json", result)


def publish_folder(path: Path, write) -> None:
    """``write(folder)`` into a scratch folder beside ``path``, then rename it into place: a crash never leaves
    a half-written checkpoint or cache under the final name (files go through ``atomic_write`` likewise)."""
    scratch = path.with_name(path.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)  # left by an interrupted run
    write(scratch)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(scratch, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="wikitext2", help="encoders.load_benchmark name (local or hub)")
    parser.add_argument("--data", nargs="+", help="text files, one document per line (instead of --dataset)")
    parser.add_argument("--packed-shards", help="folder of packed Parquet shards (greennlp.scale.ContentWordPacker + "
                        "PackedBlockWriter) to train on instead of tagging --dataset/--data here; needs --tokenizer")
    parser.add_argument("--tokenizer", help="tokenizer folder; trained on the corpus and saved there if missing")
    parser.add_argument("--vocab-size", type=int, default=12000)
    parser.add_argument("--spacy-model", default="en_core_web_sm", help="spaCy pipeline for content words")
    parser.add_argument("--spacy-processes", type=int, default=1)
    parser.add_argument("--size", choices=sorted(MINIATURE_SIZES), default="tiny")
    parser.add_argument("--masking", choices=MASKING_STRATEGIES, default="content")
    parser.add_argument("--budget", choices=BUDGETS, default="matched")
    parser.add_argument("--mlm-probability", type=float, default=0.15)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int)
    budget.add_argument("--tokens", type=int, default=4_000_000, help="budget in tokens when --steps is not given")
    parser.add_argument("--checkpoints", type=lambda s: [float(x) for x in s.split(",")], default=[0.25, 0.5, 0.75, 1.0],
                        help="fractions of the budget at which to save a checkpoint")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=float, default=0.06, help="fraction of steps for linear warm-up")
    parser.add_argument("--loop", choices=("fast", "plain"), default="fast")
    parser.add_argument("--bf16", choices=("auto", "yes", "no"), default="auto",
                        help="bf16 autocast; auto = on for CUDA with bf16, off on CPU (no gain measured for tiny)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--output-dir", default="runs/mlm")
    parser.add_argument("--cache-dir", default="runs/cache", help="tagged/packed corpora (Arrow), reused across runs")
    parser.add_argument("--benchmark-loops", type=int, default=0, help="time N steps per variant per round and exit")
    parser.add_argument("--benchmark-rounds", type=int, default=3)
    parser.add_argument("--benchmark-texts", type=int, default=3000)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.benchmark_loops:
        benchmark_loops(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
