"""Memory of recording 1M examples x 10 epochs through the recording path (content index, per-batch recording,
per-epoch resolution and Parquet write), with synthetic token ids and logits; then of loading the map.

    python scripts/bench_datamap_memory.py --examples 1000000 --epochs 10

Reports the peak resident memory above the baseline measured after start-up and one small Parquet write
(sampled every 20 ms): what the recording itself adds to a training process.
Goal: < 200 MB for recording.
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time

import numpy as np
import psutil
import torch
from common import append_jsonl, provenance

from greennlp.datamaps import DataMap
from greennlp.datamaps.matching import ExampleIndex
from greennlp.datamaps.recorder import DynamicsRecorder
from greennlp.datamaps.storage import write_table


class PeakMemory:
    """Sample this process's RSS in a thread; ``peak_mb`` is the high-water mark above the starting RSS."""

    def __enter__(self):
        self.process = psutil.Process()
        self.baseline = self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak_mb = (self.peak - self.baseline) / 2**20


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--sequence-length", type=int, default=16)
    parser.add_argument("--results", help="JSONL file to append this run's row to")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    n, length = args.examples, args.sequence_length
    # Token ids are made per batch from the row number, so the benchmark itself holds no N x L array.
    def token_ids(rows: np.ndarray) -> np.ndarray:
        """A distinct sequence per row: the row number in base 30,000, then a filler pattern."""
        filler = (rows[:, None] * 7919 + np.arange(length - 2)[None, :]) % 30_000
        return np.concatenate([(rows % 30_000)[:, None], (rows // 30_000)[:, None], filler], axis=1)

    labels = rng.integers(0, 2, n)
    folder = tempfile.mkdtemp()
    # A training process has Arrow loaded already (datasets uses it): warm the Parquet writer up before the
    # baseline, so the baseline does not count the library's own start-up.
    write_table(f"{folder}/warm-up.parquet", {"warm_up": np.arange(10)})
    with PeakMemory() as recording:
        started = time.perf_counter()
        index = ExampleIndex.from_token_ids((token_ids(np.array([i]))[0] for i in range(n)), labels)
        recorder = DynamicsRecorder(folder, n, index)
        for epoch in range(args.epochs):
            order = rng.permutation(n)
            for start in range(0, n, args.batch_size):
                rows = order[start : start + args.batch_size]
                groups = index.lookup(token_ids(rows))
                logits = torch.from_numpy(rng.normal(size=(len(rows), 2)).astype(np.float32))
                recorder.record(logits, torch.from_numpy(labels[rows]), groups)
            recorder.write_epoch(epoch, recorder.take())
            print(f"epoch {epoch}: {time.perf_counter() - started:.0f}s, peak so far "
                  f"{(recording.peak - recording.baseline) / 2**20:.0f} MB", flush=True)
    import json
    from pathlib import Path

    Path(folder, "metadata.json").write_text(json.dumps({"num_examples": n, "mode": "train", "id_column": None}))
    with PeakMemory() as loading:
        data_map = DataMap.load(folder)
    assert (data_map.table["observations"] == args.epochs).all()
    print(f"\nrecording {n:,} examples x {args.epochs} epochs: peak +{recording.peak_mb:.0f} MB above baseline "
          f"(goal < 200 MB); DataMap.load: peak +{loading.peak_mb:.0f} MB")
    result = {"recording_mb": recording.peak_mb, "loading_mb": loading.peak_mb}
    if args.results:
        append_jsonl(args.results, {"examples": n, "epochs": args.epochs, "batch_size": args.batch_size,
                                    "sequence_length": length, **result, "run": provenance()})
    return result


if __name__ == "__main__":
    main()
