"""Profile where a training step of a miniature BERT on SST-2 spends its time, outside the Trainer: forward +
backward vs optimizer, for torch thread counts, bf16 autocast on/off, foreach vs fused AdamW, and (with
--compile) torch.compile. Each setting is measured in alternation, `--repeats` times, on the same batches.

    PYTHONPATH=. nice -n 10 .venv/bin/python scripts/profile_training_step.py --size mini --steps 20
"""
from __future__ import annotations

import argparse
import itertools
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from greennlp.encoders import load_benchmark, load_encoder, tokenize_dataset, train_wordpiece_tokenizer  # noqa: E402
from greennlp.encoders.data import (
    PaddingCollator,  # noqa: E402  private: the library's padding collator
    length_grouped_order,  # noqa: E402
)


def timed_steps(model, optimizer, batches, autocast: bool) -> tuple[float, float]:
    """Seconds spent in forward+backward and in clipping+optimizer over ``batches``."""
    forward_backward = optimizer_time = 0.0
    for batch in batches:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = model(**batch).loss
        loss.backward()
        middle = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        forward_backward += middle - start
        optimizer_time += time.perf_counter() - middle
    return forward_backward, optimizer_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="mini")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    train = load_benchmark("sst2", "train", args.data, limit=8000, seed=0)
    tokenizer = train_wordpiece_tokenizer(train["text"], vocab_size=8000)
    encoded = tokenize_dataset(train, tokenizer)
    order = length_grouped_order(np.asarray(encoded["num_tokens"]), args.batch_size, seed=0)
    collate = PaddingCollator(tokenizer)
    batches = [collate([encoded[int(i)] for i in order[s : s + args.batch_size]])
               for s in range(0, args.steps * args.batch_size, args.batch_size)]
    model = load_encoder(args.size, tokenizer=tokenizer, seed=0)
    optimizers = {"foreach": torch.optim.AdamW(model.parameters(), lr=5e-4, foreach=True),
                  "fused": torch.optim.AdamW(model.parameters(), lr=5e-4, fused=True)}
    settings = list(itertools.product(args.threads, (True, False), optimizers))
    timed_steps(model, optimizers["fused"], batches[:3], True)  # warm up
    results = {setting: [] for setting in settings}
    for repeat in range(args.repeats):
        for setting in settings if repeat % 2 == 0 else reversed(settings):
            threads, autocast, optimizer = setting
            torch.set_num_threads(threads)
            results[setting].append(timed_steps(model, optimizers[optimizer], batches, autocast))
    print(f"{args.size}, {args.steps} steps of {args.batch_size}, seconds (median of {args.repeats})")
    print("| threads | bf16 autocast | AdamW | forward+backward s | clip+optimizer s |\n|---|---|---|---|---|")
    for (threads, autocast, optimizer), runs in results.items():
        fb, opt = np.median(np.asarray(runs), axis=0)
        print(f"| {threads} | {autocast} | {optimizer} | {fb:.2f} | {opt:.2f} |")
    if args.compile:
        torch.set_num_threads(min(args.threads))
        compiled = torch.compile(model, dynamic=True)
        start = time.perf_counter()
        timed_steps(compiled, optimizers["fused"], batches[:3], True)
        print(f"torch.compile warm-up (3 steps): {time.perf_counter() - start:.0f} s")
        for _ in range(args.repeats):
            eager = timed_steps(model, optimizers["fused"], batches, True)
            fast = timed_steps(compiled, optimizers["fused"], batches, True)
            print(f"compiled {fast[0]:.2f} s vs eager {eager[0]:.2f} s forward+backward")


if __name__ == "__main__":
    main()
