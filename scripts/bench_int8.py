"""int8 backends side by side: greennlp's `quantize_int8` (torch's eager dynamic quantization, deprecated in favour
of torchao) against torchao's `quantize_(model, Int8DynamicActivationInt8WeightConfig())`, on one fine-tuned
all-MiniLM-L6-v2, in one run.

Fine-tunes the encoder on a seeded SST-2 sample, then for fp32 and each int8 backend: SST-2 dev accuracy with
per-example correctness, and ms per example (batched, length-sorted, fastest of --rounds, backends alternated
within each round) at each thread count. One JSON row per backend and thread count, with provenance.

    python scripts/bench_int8.py --data ../shared/data --train-size 2000 --epochs 1 --threads 1 2 \\
        --results docs/results/int8_backends.jsonl
"""
from __future__ import annotations

import argparse
import copy
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import append_jsonl, correctness, provenance  # noqa: E402

from greennlp.encoders import (  # noqa: E402
    accuracy,
    fine_tune,
    load_benchmark,
    load_encoder,
    load_tokenizer,
    quantize_int8,
)


def torchao_int8(model: torch.nn.Module) -> tuple[torch.nn.Module | None, str]:
    """The model under torchao's dynamic int8 (activations and weights), or None and why it could not be made."""
    try:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_
    except Exception as error:  # noqa: BLE001 - any failure to import is the finding
        return None, f"torchao does not import: {type(error).__name__}: {error}"
    quantized = copy.deepcopy(model).float().eval()
    quantize_(quantized, Int8DynamicActivationInt8WeightConfig())
    return quantized, ""


@torch.inference_mode()
def ms_per_example(model, batches) -> float:
    started = time.perf_counter()
    examples = 0
    for batch in batches:
        model(**batch)
        examples += len(batch["input_ids"])
    return 1000 * (time.perf_counter() - started) / examples


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--data")
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", required=True)
    args = parser.parse_args(argv)
    tokenizer = load_tokenizer(args.model)
    train = load_benchmark("sst2", "train", args.data, limit=args.train_size, seed=args.seed)
    dev = load_benchmark("sst2", "validation", args.data)
    model = load_encoder(args.model, num_labels=2, seed=args.seed)
    fine_tune(model, tokenizer, train, epochs=args.epochs, seed=args.seed)
    model = model.float().eval()
    backends = {"fp32": model, "torch.ao dynamic int8 (quantize_int8)": quantize_int8(model)}
    made, reason = torchao_int8(model)
    if made is not None:
        backends["torchao Int8DynamicActivationInt8Weight"] = made
    texts = dev["text"]
    order = np.argsort([len(t) for t in texts], kind="stable")
    batches = [tokenizer([texts[i] for i in order[s:s + args.batch_size]], padding=True, truncation=True,
                         max_length=128, return_tensors="pt") for s in range(0, len(texts), args.batch_size)]
    correct = {name: accuracy(m, tokenizer, dev, per_example=True) for name, m in backends.items()}
    run = provenance()
    for threads in args.threads:
        torch.set_num_threads(threads)
        best = dict.fromkeys(backends, float("inf"))
        for backend in backends.values():
            ms_per_example(backend, batches[:1])  # warm-up
        for _ in range(args.rounds):
            for name, backend in backends.items():
                best[name] = min(best[name], ms_per_example(backend, batches))
        for name in backends:
            row = {"backend": name, "threads": threads, "ms_per_example": best[name],
                   "speedup": best["fp32"] / best[name], "accuracy": float(correct[name].mean()),
                   "correct": correctness(correct[name]), "train_size": args.train_size, "epochs": args.epochs,
                   "batch_size": args.batch_size, "torchao": reason or "used", "run": run}
            append_jsonl(args.results, row)
            print(f"{threads} threads, {name}: {best[name]:.2f} ms/example, {row['speedup']:.2f}x, "
                  f"accuracy {row['accuracy']:.3f}", flush=True)
    if reason:
        print(reason)


if __name__ == "__main__":
    main()
