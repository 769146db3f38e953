"""Generators of the results pages: one module per page, each with a FIGURES dict (name -> function returning
Markdown), and these shared helpers to read raw results and write numbers one way everywhere.

Conventions: accuracies as .893; differences in points of accuracy with their 95% interval from
`greennlp.budgets.paired_difference`, e.g. "+0.3 [−0.1, +0.7]"; a difference whose interval holds zero is
"level"; "±" is the population standard deviation over seeds (ddof=0); negative numbers take a real minus sign.
"""
from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

# private on purpose: the library's one mean ± std (population std, ddof=0), shared with the scripts' summaries
from greennlp._results import mean_std as mean_and_std
from greennlp.budgets import paired_difference

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "docs" / "results"
MINUS = "\u2212"


@cache
def _read(name: str) -> pd.DataFrame:
    path = RESULTS / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the raw results behind a doc must be committed in docs/results/.")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    return pd.DataFrame([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()])


def rows(name: str) -> pd.DataFrame:
    """The raw rows of ``docs/results/<name>`` (JSONL, CSV or Parquet), as a fresh DataFrame."""
    return _read(name).copy()


def meta(name: str) -> dict:
    """Provenance of a raw file: the ``run`` field of its first row, else its sidecar ``<stem>.meta.json`` (for
    files written before rows carried their provenance)."""
    frame = _read(name)
    if "run" in frame.columns and isinstance(frame["run"].iloc[0], dict):
        runs = [r for r in frame["run"] if isinstance(r, dict)]
        first = dict(runs[0])
        dates = sorted({r["date"] for r in runs})
        first["date"] = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
        return first
    sidecar = RESULTS / (Path(name).stem + ".meta.json")
    if not sidecar.is_file():
        raise FileNotFoundError(f"{name} has no provenance: its rows lack 'run' and {sidecar.name} is missing.")
    return json.loads(sidecar.read_text(encoding="utf-8"))


def provenance(name: str, *, command: bool = True) -> str:
    """Markdown: the command that made ``name`` (a code block), then machine, versions, date and the raw file."""
    info = meta(name)
    versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items() if k in
                         ("torch", "transformers", "datasets", "spacy", "datatrove", "greennlp"))
    lines = []
    if command:
        lines += ["```bash", _wrap_command(info["command"]), "```", ""]
    where = f"Machine: {info['machine']}" + (f"; {versions}" if versions else "") + f"; {info['date']}."
    if info.get("note"):
        where += f" {info['note']}"
    lines.append(wrap(where + f" Raw rows: [{name}]({name})."))
    return "\n".join(lines)


def wrap(text: str, width: int = 115) -> str:
    """Prose wrapped to the docs' line length, one paragraph per blank-line-separated block."""
    return "\n\n".join(textwrap.fill(block, width, break_on_hyphens=False, break_long_words=False)
                        for block in text.split("\n\n"))


def _wrap_command(command: str, width: int = 110) -> str:
    words, lines, line = command.split(" "), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line + " \\")
            line = "    " + word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def signed(value: float, digits: int = 1) -> str:
    """``+0.3``, ``−1.2``, ``0.0``: a signed number with a real minus sign."""
    text = f"{value:+.{digits}f}"
    if float(text) == 0:
        return f"{0:.{digits}f}"
    return text.replace("-", MINUS)


def number(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}".replace("-", MINUS)


def accuracy(value: float) -> str:
    """``.893``: an accuracy with three decimals and no leading zero."""
    return f"{value:.3f}".lstrip("0") if value < 1 else f"{value:.3f}"


def mean_std(values: Sequence[float]) -> str:
    """``.893 ± .006`` over seeds (population std)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return accuracy(values[0])
    mean, std = mean_and_std(values)
    return f"{accuracy(mean)} ± {accuracy(std)}"


def ratio(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}x"


def compare(frame: pd.DataFrame, column: str, a: dict, b: dict, *, seed_column: str = "seed",
            correct_key: str | None = None):
    """``paired_difference`` of rows matching ``a`` against rows matching ``b`` (dicts of column -> value),
    paired by seed. Uses each row's per-example correctness (``correct[correct_key or column]``) when the rows
    hold it, else each seed's ``column`` (an interval over seeds only)."""
    def pick(selector: dict) -> pd.DataFrame:
        mask = np.ones(len(frame), dtype=bool)
        for key, value in selector.items():
            mask &= (frame[key] == value).to_numpy()
        chosen = frame[mask].set_index(seed_column).sort_index()
        if chosen.index.has_duplicates or chosen.empty:
            raise ValueError(f"{selector} selects {len(chosen)} rows ({list(chosen.index)}); need one per seed.")
        return chosen

    left, right = pick(a), pick(b)
    seeds = sorted(set(left.index) & set(right.index))
    key = correct_key or column
    if "correct" in frame.columns and all(isinstance(c, dict) and key in c for c in left["correct"]):
        per_example = {s: np.asarray(left.loc[s, "correct"][key]) for s in seeds}
        other = {s: np.asarray(right.loc[s, "correct"][key]) for s in seeds}
        return paired_difference(per_example, other)
    return paired_difference({s: [left.loc[s, column]] for s in seeds}, {s: [right.loc[s, column]] for s in seeds})


def difference(result, *, scale: float = 100, digits: int = 1) -> str:
    """``+0.3 [−0.1, +0.7]``: a paired difference in points with its interval."""
    return (f"{signed(scale * result.mean, digits)} [{signed(scale * result.low, digits)}, "
            f"{signed(scale * result.high, digits)}]")


def verdict(result, *, ahead: str = "ahead", behind: str = "behind") -> str:
    """``level`` when the interval holds zero, else ``ahead``/``behind`` (or the words given)."""
    return {"ahead": ahead, "behind": behind, "level": "level"}[result.verdict]


def seeds_ahead(result) -> str:
    return f"{result.seeds_ahead}/{result.seeds}"


def table(header: Sequence[str], body: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in body]
    return "\n".join(lines)


def flops(value: float) -> str:
    """``7.6e12`` FLOPs."""
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"
