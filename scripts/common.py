"""What the experiment scripts share: the one raw-results writer (JSONL rows with their provenance: command,
machine, library versions, date), its reader, and the one mean ± std of the scripts' summaries. Rows written
here are what `make results` turns into the tables of docs/results/."""
from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

# Private on purpose (no public name for it): the library's one mean ± std, population std (ddof=0), so the
# scripts' summaries and the library's (BudgetCurve, fewshot.summarize_benchmark) are the same numbers.
from greennlp._results import mean_std, population_std  # noqa: F401  (re-exported for the scripts)

VERSIONED = ("greennlp", "torch", "transformers", "datasets", "numpy", "scikit-learn", "spacy", "datatrove")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@cache
def machine() -> str:
    """One line naming the machine a result was measured on: CPU, cores, bf16 support, GPU if any."""
    flags = _cpu_flags()
    bf16 = "AMX" if "amx_bf16" in flags else "AVX512-BF16, no AMX" if "avx512_bf16" in flags else "no bf16"
    text = f"{_cpu_name()}, {os.cpu_count()} cores ({bf16})"
    try:
        import torch

        if torch.cuda.is_available():
            text += f", {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return text


def provenance(argv: Iterable[str] | None = None) -> dict:
    """The command that made a row, the machine, library versions and the UTC date, stored with every row."""
    arguments = list(sys.argv if argv is None else argv)
    script = Path(arguments[0]) if arguments else Path("?")
    try:
        script = script.resolve().relative_to(Path(__file__).resolve().parents[1])
    except ValueError:
        pass
    versions = {}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"command": shlex.join(["python", str(script), *arguments[1:]]), "machine": machine(),
            "python": platform.python_version(), "versions": versions,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one finished run to a JSONL results file: one line, written whole with one write, flushed and
    fsynced, so that a killed run loses at most the row it was writing and a rerun resumes after the rest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, separators=(",", ":")) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The rows of a JSONL results file (none when it does not exist); a torn last line is an error that says so."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number} is not a JSON row ({error}); a killed run can leave a torn last "
                                 "line: remove it and rerun to redo that row.") from error
    return rows


def correctness(values) -> list[int]:
    """Per-example correctness as a compact JSON list of 0/1."""
    return [int(v) for v in np.asarray(values).ravel()]
