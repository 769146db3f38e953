"""Benchmark: ways to make a fine-tuned encoder cheaper, side by side against the full model on SST-2.

Fine-tunes a teacher (all-MiniLM-L6-v2 by default) on a seeded SST-2 training subsample, then prices, one row each:
int8 weights (encoders.quantize_int8); students made of the teacher's first 2 and 4 layers (keep_layers), trained
for the same steps with the same seed either by distillation (DistillationTrainer) or on the labels alone; a model
fine-tuned with LayerDrop (layer_drop) run with all its layers and with every other layer (keep_layers, no
retraining), against the teacher pruned the same way; the teacher without its least important attention heads
(head_importance on held-out training rows, prune_heads); early exit (bench_inference.train_early_exit); and int8
on top of the best of the others (the fastest within 1 point of the full model's dev accuracy, else the most
accurate). With --transfer-size N, the students are also distilled on the labelled set plus N unlabelled SST-2
training sentences that no other row sees (the teacher's soft labels only; Turc et al. 2019), with int8 on each
and on the same student trained on the labels alone. Each row has SST-2 dev accuracy, IMDB and CR accuracy (out of
domain, seeded subsamples, max length 128; encoders.accuracy), ms per example of batched inference (dev set,
length-sorted batches of 64, fp32, fastest of --repeats rounds) at each --threads count, timed alternately with
the full model so that every speed-up is measured under the same load (early-exit rows time `predict`, which also
pads its batches), FLOPs per example (early_exit_flops on each dev example's length), the size of the state
dict, the per-example correctness on each evaluation set (`correct`, keyed by its accuracy column), the seed and
the run's provenance (`run`: command, machine, versions, date).

Resumable: each finished row is appended to <output-dir>/results.jsonl and skipped by a rerun with the same
settings; trained models are saved under <output-dir>/models/. Prints the markdown table and writes
<output-dir>/pareto.png (dev accuracy against ms per example at the largest thread count).

  PYTHONPATH=. nice -n 10 .venv/bin/python scripts/bench_compression.py --data ../shared/data --train-size 8000 \\
      --epochs 3 --output-dir runs/compression
"""
from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GREENNLP_CPU_BF16", "0")  # every row in fp32, so that int8 is compared with fp32

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_inference import load_sst2_tokenizer, sst2_splits, train_early_exit, training_arguments  # noqa: E402
from common import correctness, provenance  # noqa: E402
from datasets import concatenate_datasets  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from transformers import AutoModelForSequenceClassification, Trainer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from greennlp._files import save_figure, write_json, write_text  # noqa: E402
from greennlp.encoders import accuracy, load_benchmark, load_encoder, quantize_int8, tokenize_dataset  # noqa: E402
from greennlp.encoders.data import PaddingCollator  # noqa: E402  private: the library's padding collator
from greennlp.encoders.models import MINIATURE_SIZES  # noqa: E402  private: the sizes load_encoder builds from a config
from greennlp.inference import (  # noqa: E402
    DistillationTrainer,
    EarlyExitClassifier,
    head_importance,
    keep_layers,
    layer_drop,
    prune_heads,
)

# private: FLOPs of a BERT config per example's tokens, for any layer count (EarlyExitClassifier.flops_per_example
# prices its own config alone); the same count exit_curve reports
from greennlp.inference.flops import early_exit_flops  # noqa: E402

FULL = "full model"
WITHIN = 0.01  # accuracy a compressed model may lose to count as "as good" when choosing what int8 goes on top of


class Models:
    """Every model a row needs, built on first use: trained ones are saved under ``folder`` and loaded on a rerun."""

    def __init__(self, args, folder: Path, tokenizer, tokenized: dict):
        self.args, self.folder, self.tokenizer, self.tokenized = args, folder, tokenizer, tokenized
        self.cache: dict[str, torch.nn.Module] = {}
        self.train_seconds: dict[str, float] = {}

    def _saved(self, name: str, train: Callable[[], torch.nn.Module], loader=AutoModelForSequenceClassification):
        if name in self.cache:
            return self.cache[name]
        path = self.folder / name
        if (path / "config.json").is_file():
            model = loader.from_pretrained(path)
        else:
            start = time.perf_counter()
            model = train()
            self.train_seconds[name] = time.perf_counter() - start
            model.save_pretrained(path)
        self.cache[name] = model.float().eval()
        return self.cache[name]

    def _train(self, model, trainer_class=Trainer, split: str = "train", **extra):
        args = self.args
        with tempfile.TemporaryDirectory(prefix="greennlp-bench-compression-") as folder:
            arguments = training_arguments(folder, epochs=args.epochs, learning_rate=args.learning_rate,
                                           batch_size=args.batch_size, seed=args.seed)
            trainer_class(model=model, args=arguments, train_dataset=self.tokenized[split],
                          data_collator=PaddingCollator(self.tokenizer), **extra).train()
        return model

    def _pretrained(self, layer_drop_probability: float = 0.0):
        miniature = self.args.model in MINIATURE_SIZES
        model = load_encoder(self.args.model, num_labels=2, tokenizer=self.tokenizer if miniature else None,
                             seed=self.args.seed)
        return layer_drop(model, probability=layer_drop_probability) if layer_drop_probability else model

    def teacher(self):
        return self._saved("teacher", lambda: self._train(self._pretrained()))

    def student(self, layers: int, distilled: bool, transfer: bool = False):
        """The teacher's first ``layers`` layers trained on the labels, or distilled; with ``transfer``, distilled
        on the labelled rows plus the unlabelled transfer rows (label -100: the soft term only)."""
        def train():
            # DistillationTrainer freezes the teacher it is given: the student's copy of its layers must train
            student = keep_layers(self.teacher(), list(range(layers))).requires_grad_(True)
            if not distilled:
                return self._train(student)
            return self._train(student, DistillationTrainer, split="transfer" if transfer else "train",
                               teacher=self.teacher(), temperature=self.args.temperature, alpha=self.args.alpha)

        name = f"first-{layers}-{'distilled' if distilled else 'labels'}"
        return self._saved(f"{name}-transfer{self.args.transfer_size}" if transfer else name, train)

    def layer_drop(self):
        return self._saved("layer-drop", lambda: self._train(self._pretrained(self.args.layer_drop)))

    def importance(self) -> np.ndarray:
        path = self.folder / "head_importance.json"
        if path.is_file():
            return np.asarray(json.loads(path.read_text()))
        importance = head_importance(self.teacher(), self.tokenized["held_out"])
        write_json(path, importance.tolist())
        return importance

    def early_exit(self):
        def train():
            args = self.args
            # the recipe of the early-exit rows in docs/inference.md's compression table: [CLS] exits, one
            # learning rate (bench_inference.py measures the mean-pooled exits with their own rate)
            return train_early_exit(args.model, self.tokenizer, self.tokenized["train"], self.tokenized["held_out"],
                                    epochs=args.epochs, learning_rate=args.learning_rate,
                                    batch_size=args.batch_size, seed=args.seed, pooling="cls")

        return self._saved("early-exit", train, loader=EarlyExitClassifier)


def rows_to_run(models: Models, args) -> dict[str, Callable[[], torch.nn.Module]]:
    """Row name -> the model it prices (early-exit rows are added separately: they are predicted differently)."""
    layers = models.teacher().config.num_hidden_layers
    every_other = [list(range(0, layers, 2)), list(range(1, layers, 2))]  # Fan et al.'s "every other layer"
    rows = {FULL: models.teacher, "int8": lambda: quantize_int8(models.teacher())}
    for size in args.student_layers:
        rows[f"first {size} layers, distilled"] = lambda size=size: models.student(size, distilled=True)
        rows[f"first {size} layers, labels only"] = lambda size=size: models.student(size, distilled=False)
    rows[f"LayerDrop {args.layer_drop:g}, all {layers} layers"] = models.layer_drop
    for kept in every_other:
        names = ",".join(str(i + 1) for i in kept)
        rows[f"LayerDrop {args.layer_drop:g}, layers {names}"] = lambda kept=kept: keep_layers(models.layer_drop(), kept)
        rows[f"no LayerDrop, layers {names}"] = lambda kept=kept: keep_layers(models.teacher(), kept)
    for share in args.head_shares:
        rows[f"{share:.0%} of heads pruned"] = lambda share=share: prune_heads(models.teacher(), models.importance(),
                                                                              share=share)
    if args.transfer_size:
        for size in sorted(args.student_layers, reverse=True):  # the most accurate student first
            name = f"first {size} layers, distilled + {args.transfer_size:,} unlabelled"
            rows[name] = lambda size=size: models.student(size, distilled=True, transfer=True)
            rows[f"int8 + {name}"] = lambda size=size: quantize_int8(models.student(size, distilled=True,
                                                                                    transfer=True))
            # the same student on the labels alone, at the same int8 speed: what distillation must beat
            rows[f"int8 + first {size} layers, labels only"] = lambda size=size: quantize_int8(
                models.student(size, distilled=False))
    return rows


# --- measuring ------------------------------------------------------------------------------------------------
def dev_batches(tokenized, tokenizer, batch_size: int = 64) -> list[dict]:
    """Length-sorted, padded dev batches without labels, built once before any clock starts."""
    order = np.argsort(tokenized["num_tokens"], kind="stable")
    collate = PaddingCollator(tokenizer)
    batches = []
    for start in range(0, len(order), batch_size):
        batch = collate([tokenized[int(i)] for i in order[start:start + batch_size]])
        batch.pop("labels", None)
        batches.append(batch)
    return batches


def forward_pass(model, batches) -> Callable[[], None]:
    @torch.no_grad()
    def run():
        for batch in batches:
            model(**batch)

    return run


def time_side_by_side(runs: dict[str, Callable[[], None]], examples: int, threads: int, repeats: int) -> dict:
    """ms per example of each run at ``threads`` torch threads: one untimed warm-up each, then ``repeats`` rounds
    with the order reversed every other round; the fastest round of each is kept."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for run in runs.values():
            run()
        best = dict.fromkeys(runs, float("inf"))
        for round_index in range(repeats):
            for name in list(runs)[:: 1 if round_index % 2 == 0 else -1]:
                start = time.perf_counter()
                runs[name]()
                best[name] = min(best[name], time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return {name: 1000 * seconds / examples for name, seconds in best.items()}


def size_mb(model: torch.nn.Module) -> float:
    """Size of the serialized state dict in MB (packed int8 weights count as stored)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes / 2**20


def mean_flops(config, lengths: np.ndarray, exit_layers=None) -> float:
    """Mean FLOPs per example over the dev lengths (each example at its own exit layer, else all layers)."""
    if exit_layers is None:
        exit_layers = np.full(len(lengths), config.num_hidden_layers)
    return float(np.mean([early_exit_flops(config, int(n), int(e)) for n, e in zip(lengths, exit_layers, strict=True)]))


def timing(args, run: Callable[[], None], full_run: Callable[[], None], examples: int, is_full: bool) -> dict:
    row = {}
    for threads in args.threads:
        runs = {"model": run} if is_full else {"model": run, "full": full_run}
        ms = time_side_by_side(runs, examples, threads, args.repeats)
        row[f"ms_per_example_{threads}t"] = ms["model"]
        row[f"full_ms_per_example_{threads}t"] = ms.get("full", ms["model"])
    return row


def with_correctness(name: str, correct: dict[str, np.ndarray]) -> dict:
    """The row's accuracies and its per-example correctness, keyed by the accuracy column they average to (what
    `paired_difference` compares between rows)."""
    columns = {f"{split}_accuracy": correct[split] for split in ("dev", "imdb", "cr")}
    return {"setup": name, **{c: float(np.mean(v)) for c, v in columns.items()},
            "correct": {c: correctness(v) for c, v in columns.items()}}


def measure_model(name: str, model, data: dict, args, full) -> dict:
    kwargs = dict(max_length=128, batch_size=64, per_example=True)
    row = with_correctness(name, {split: accuracy(model, data["tokenizer"], data[split], **kwargs)
                                  for split in ("dev", "imdb", "cr")})
    row.update(timing(args, forward_pass(model, data["batches"]), forward_pass(full, data["batches"]),
                      len(data["dev"]), is_full=name == FULL))
    source = getattr(model, "config", None) or full.config
    row.update(flops_per_example=mean_flops(source, data["lengths"]), size_mb=size_mb(model),
               layers=source.num_hidden_layers,
               heads=int(source.num_hidden_layers * source.num_attention_heads
                         - sum(len(h) for h in (getattr(source, "pruned_heads", None) or {}).values())))
    return row


def measure_early_exit(threshold: float, model: EarlyExitClassifier, data: dict, args, full) -> dict:
    def correct(split: str) -> np.ndarray:
        predicted = model.predict(data[f"{split}_tokenized"], threshold=threshold)
        return predicted["label"].to_numpy() == np.asarray(data[split]["label"])

    exits = model.predict(data["dev_tokenized"], threshold=threshold)["exit_layer"].to_numpy()
    row = with_correctness(f"early exit > {threshold:g}", {split: correct(split) for split in ("dev", "imdb", "cr")})
    row.update(timing(args, lambda: model.predict(data["dev_tokenized"], threshold=threshold),
                      forward_pass(full, data["batches"]), len(data["dev"]), is_full=False))
    row.update(flops_per_example=mean_flops(model.config, data["lengths"], exits), size_mb=size_mb(model),
               layers=float(exits.mean()), heads=model.config.num_hidden_layers * model.config.num_attention_heads)
    return row


# --- reporting ------------------------------------------------------------------------------------------------
def best_to_quantize(rows: list[dict], threads: int) -> str:
    """The fastest compressed row within WITHIN of the full model's dev accuracy, else the most accurate one."""
    full = next(r for r in rows if r["setup"] == FULL)
    candidates = [r for r in rows if r["setup"] != FULL and "int8" not in r["setup"]
                  and not r["setup"].startswith("early exit")]
    good = [r for r in candidates if r["dev_accuracy"] >= full["dev_accuracy"] - WITHIN]
    if good:
        return min(good, key=lambda r: r[f"ms_per_example_{threads}t"])["setup"]
    return max(candidates, key=lambda r: r["dev_accuracy"])["setup"]


def markdown(rows: list[dict], threads: list[int]) -> str:
    full = next(r for r in rows if r["setup"] == FULL)
    timed = [f"ms / example ({t} thr) | speed-up ({t} thr)" for t in threads]
    lines = ["| setup | dev acc | Δ dev | IMDB acc | CR acc | " + " | ".join(timed)
             + " | GFLOPs / example | FLOPs ratio | size MB | size ratio |",
             "|---|" + "---|" * (8 + 2 * len(threads))]
    for r in rows:
        cells = [r["setup"], f"{r['dev_accuracy']:.3f}", f"{r['dev_accuracy'] - full['dev_accuracy']:+.3f}",
                 f"{r['imdb_accuracy']:.3f}", f"{r['cr_accuracy']:.3f}"]
        for t in threads:
            ms, reference = r[f"ms_per_example_{t}t"], r[f"full_ms_per_example_{t}t"]
            cells += [f"{ms:.2f}", f"{reference / ms:.2f}x"]
        cells += [f"{r['flops_per_example'] / 1e9:.3f}", f"{full['flops_per_example'] / r['flops_per_example']:.2f}x",
                  f"{r['size_mb']:.1f}", f"{full['size_mb'] / r['size_mb']:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pareto_plot(rows: list[dict], threads: int, path: Path) -> None:
    """Dev accuracy against ms per example; the rows no other row beats on both are joined by a line."""
    figure = Figure(figsize=(8, 5.5))
    axes = figure.subplots()
    ms = np.array([r[f"ms_per_example_{threads}t"] for r in rows])
    acc = np.array([r["dev_accuracy"] for r in rows])
    front = [i for i in range(len(rows))
             if not any(ms[j] <= ms[i] and acc[j] >= acc[i] and (ms[j] < ms[i] or acc[j] > acc[i])
                        for j in range(len(rows)))]
    front.sort(key=lambda i: ms[i])
    axes.plot(ms[front], acc[front], color="0.6", linestyle="--", zorder=1, label="Pareto front")
    axes.scatter(ms, acc, color=["C3" if r["setup"] == FULL else "C0" for r in rows], zorder=2)
    for r, x, y in zip(rows, ms, acc, strict=True):
        axes.annotate(r["setup"], (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    axes.set_xscale("log")
    axes.set_xlabel(f"ms per example (batched, {threads} torch thread{'s' if threads > 1 else ''}, log scale)")
    axes.set_ylabel("SST-2 dev accuracy")
    axes.set_title("Compressing a fine-tuned encoder: accuracy against inference time")
    axes.legend(loc="lower right")
    save_figure(path, figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2",
                        help="the teacher: a BERT hub id / path, or a miniature size (trained from scratch)")
    parser.add_argument("--data", help="folder holding sst2/, imdb/ and cr/ (default: $GREENNLP_DATA_DIR, else the hub)")
    parser.add_argument("--output-dir", required=True, help="results.jsonl, pareto.png and the trained models")
    parser.add_argument("--train-size", type=int, default=8000, help="seeded SST-2 training subsample")
    parser.add_argument("--held-out-size", type=int, default=1000,
                        help="other training rows: head importance and early-exit calibration")
    parser.add_argument("--dev-size", type=int, default=None, help="SST-2 dev rows (all 872 by default)")
    parser.add_argument("--ood-size", type=int, default=1000, help="seeded IMDB (test) and CR rows")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="every training run (default 5e-5 for a pretrained model, 1e-3 for a miniature size)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--student-layers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--temperature", type=float, default=2.0, help="distillation temperature")
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of the teacher's soft labels")
    parser.add_argument("--layer-drop", type=float, default=0.5,
                        help="LayerDrop probability (higher keeps more accuracy when more layers are pruned)")
    parser.add_argument("--transfer-size", type=int, default=0,
                        help="unlabelled SST-2 training rows (disjoint from the others) the students are also "
                             "distilled on: adds a distilled and an int8 row per student size")
    parser.add_argument("--head-shares", type=float, nargs="+", default=[0.25, 0.5], help="shares of heads pruned")
    parser.add_argument("--exit-thresholds", type=float, nargs="*", default=[0.9, 0.8],
                        help="early-exit rows (none: skip training the early-exit model)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="torch thread counts for timing; training uses the largest")
    parser.add_argument("--repeats", type=int, default=3, help="timing rounds (fastest kept)")
    args = parser.parse_args()
    args.learning_rate = args.learning_rate or (1e-3 if args.model in MINIATURE_SIZES else 5e-5)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(args.threads))

    output = Path(args.output_dir)
    # --transfer-size only adds rows, named after it, so results with and without it share a folder
    settings = {k: v for k, v in vars(args).items() if k not in ("output_dir", "data", "repeats", "transfer_size")}
    settings_file = output / "settings.json"
    if settings_file.is_file() and json.loads(settings_file.read_text()) != json.loads(json.dumps(settings)):
        raise SystemExit(f"{output} holds results of other settings ({settings_file}); use another --output-dir.")
    write_json(settings_file, settings)
    results_file = output / "results.jsonl"
    rows = [json.loads(line) for line in results_file.read_text().splitlines()] if results_file.is_file() else []

    train, held_out, dev = sst2_splits(args.data, args.train_size, args.held_out_size, args.dev_size, args.seed)
    tokenizer = load_sst2_tokenizer(args.model, train)
    imdb = load_benchmark("imdb", "test", args.data, limit=args.ood_size, seed=args.seed)
    cr = load_benchmark("cr", "all", args.data, limit=args.ood_size, seed=args.seed)
    tokenized = {"train": tokenize_dataset(train, tokenizer), "held_out": tokenize_dataset(held_out, tokenizer)}
    if args.transfer_size:
        skip = args.train_size + args.held_out_size  # load_benchmark's seeded subsets are prefixes of one shuffle
        pool = load_benchmark("sst2", "train", args.data, limit=skip + args.transfer_size, seed=args.seed)
        if len(pool) < skip + args.transfer_size:
            raise SystemExit(f"--transfer-size {args.transfer_size}: SST-2 has only {len(pool) - skip} training rows "
                             "beyond the labelled and held-out ones.")
        unlabelled = pool.select(range(skip, len(pool))).map(lambda _: {"label": -100})
        tokenized["transfer"] = concatenate_datasets([tokenized["train"],
                                                      tokenize_dataset(unlabelled, tokenizer).cast(
                                                          tokenized["train"].features)])
    data = {"tokenizer": tokenizer, "dev": dev, "imdb": imdb, "cr": cr,
            **{f"{name}_tokenized": tokenize_dataset(split, tokenizer, max_length=128)
               for name, split in (("dev", dev), ("imdb", imdb), ("cr", cr))}}
    data["batches"] = dev_batches(data["dev_tokenized"], tokenizer)
    data["lengths"] = np.asarray(data["dev_tokenized"]["num_tokens"])
    models = Models(args, output / "models", tokenizer, tokenized)
    print(f"SST-2: {len(train)} training, {len(held_out)} held-out, {len(dev)} dev rows; IMDB {len(imdb)}, "
          f"CR {len(cr)} rows; output in {output}")

    def finish(name: str, measure: Callable[[], dict]) -> None:
        if any(r["setup"] == name for r in rows):
            return
        start = time.perf_counter()
        row = measure()
        row["train_seconds"] = sum(models.train_seconds.values()) or None
        row.update(seed=args.seed, run=provenance())
        models.train_seconds.clear()
        rows.append(row)
        write_text(results_file, "".join(json.dumps(r) + "\n" for r in rows))
        print(f"{name}: dev {row['dev_accuracy']:.3f}, IMDB {row['imdb_accuracy']:.3f}, CR {row['cr_accuracy']:.3f}, "
              f"{row[f'ms_per_example_{max(args.threads)}t']:.2f} ms / example "
              f"({time.perf_counter() - start:.0f} s)", flush=True)

    for name, build in rows_to_run(models, args).items():
        finish(name, lambda name=name, build=build: measure_model(name, build(), data, args, models.teacher()))
    for threshold in args.exit_thresholds:
        finish(f"early exit > {threshold:g}",
               lambda t=threshold: measure_early_exit(t, models.early_exit(), data, args, models.teacher()))
    best = best_to_quantize(rows, max(args.threads))
    builders = rows_to_run(models, args)
    finish(f"int8 + {best}", lambda: measure_model(f"int8 + {best}", quantize_int8(builders[best]()), data, args,
                                                   models.teacher()))

    print(f"\nSST-2 dev ({len(dev)}), IMDB ({len(imdb)}) and CR ({len(cr)}) accuracy; batched dev inference "
          f"(batches of 64, fp32 unless int8, fastest of {args.repeats} rounds), each speed-up against the full "
          "model timed alongside it:\n")
    print(markdown(rows, args.threads))
    pareto_plot(rows, max(args.threads), output / "pareto.png")
    print(f"\nwrote {results_file} and {output / 'pareto.png'}")


if __name__ == "__main__":
    main()
