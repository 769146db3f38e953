"""The price tag of a training run (Schwartz et al. 2020, "Green AI"): time, FLOPs, data seen, memory and
energy beside the result, saved as JSON and printable as a Markdown table row."""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from greennlp._files import write_json

#: Columns of the Markdown row: (header, attribute, formatter).
_MARKDOWN_COLUMNS = (
    ("run", "run_name", str),
    ("wall time (s)", "wall_time_s", lambda v: f"{v:.1f}"),
    ("train FLOPs", "train_flops", lambda v: f"{v:.3g}"),
    ("examples", "examples_seen", lambda v: f"{v:,}"),
    ("tokens", "tokens_seen", lambda v: f"{v:,}"),
    ("examples/s", "examples_per_second", lambda v: f"{v:.1f}"),
    ("peak memory (MB)", "peak_memory_mb", lambda v: f"{v:.0f}"),
    ("energy (Wh)", "energy_kwh", lambda v: f"{1000 * v:.3g}"),
    ("CO2e (g)", "co2e_kg", lambda v: f"{1000 * v:.3g}"),
)


@dataclass
class PriceTag:
    """What one training run cost. Write it with :meth:`save`, show it with :meth:`markdown_header` and
    :meth:`markdown_row`. These field names are the toolkit's names for these quantities everywhere (results
    tables of ``BudgetCurve`` and of the scripts use them as column names).

    ``train_flops`` counts a multiply-add as 2 FLOPs (``torch.utils.flop_counter``); ``flops_method`` says how
    many steps were measured and how the total was extrapolated. ``energy_method`` says whether energy was
    measured (codecarbon) or estimated, and from what. Every field but ``run_name`` defaults to 0, "" or an empty
    dict (not recorded); the meanings below are those of the tags ``BudgetCallback`` records.

    Attributes
    ----------
    run_name : str
        Name of the run: ``BudgetCallback(run_name=)``, else ``TrainingArguments.run_name``, else the name of the
        folder the tag is written to.
    model_name : str
        The model's hub id, else the name of the local folder it was loaded from, else its class name.
    n_parameters : int
        Parameters of the model, trainable or not.
    device : str
        The device the Trainer trained on, e.g. ``"cpu"`` or ``"cuda:0"`` (default ``"cpu"``).
    wall_time_s : float
        Wall-clock seconds from the start to the end of training.
    optimizer_steps : int
        Optimizer steps of the run.
    epochs : float
        Epochs completed (the Trainer's ``state.epoch``; fractional when training stopped inside an epoch).
    examples_seen : int
        Examples in the training forward passes (evaluation passes are not counted).
    tokens_seen : int
        Tokens in those passes, padding excluded (the sum of the attention masks).
    padded_tokens_seen : int
        Tokens in those passes, padding included (what was computed).
    examples_per_second : float
        ``examples_seen / wall_time_s``.
    tokens_per_second : float
        ``tokens_seen / wall_time_s``.
    train_flops : float
        FLOPs of training (a multiply-add is 2), measured on some steps and extrapolated (``flops_method``).
    flops_measured_steps : int
        Optimizer steps measured with the FLOP counter (``BudgetCallback(flop_steps=)``).
    flops_method : str
        How ``train_flops`` was measured and extrapolated.
    trainer_flops_estimate : float
        The Trainer's own estimate, ``state.total_flos`` (6 x non-embedding parameters x tokens, padding
        included), for comparison with ``train_flops``.
    peak_memory_mb : float
        Peak memory in MB (2**20 bytes): ``torch.cuda.max_memory_allocated`` on a GPU, else the largest process
        resident set size sampled at the end of each optimizer step.
    memory_method : str
        Which of the two ``peak_memory_mb`` is.
    energy_kwh : float
        Energy used by the run, in kWh: measured by codecarbon or estimated (``energy_method``).
    co2e_kg : float
        Emissions in kg of CO2 equivalent: ``energy_kwh`` times the carbon intensity of the electricity.
    energy_method : str
        How ``energy_kwh`` and ``co2e_kg`` were measured or estimated, with the assumptions.
    started_at : str
        When training started, in UTC, ISO 8601 to the second (e.g. ``"2025-01-31T12:00:00+00:00"``).
    metrics : dict of str to float
        Numeric metrics of ``trainer.evaluate()`` (e.g. ``eval_accuracy``), during or after training.
    environment : dict of str to str
        Versions of ``torch``, ``transformers`` and Python, the CPU model, torch's CPU threads, and the GPU's
        name when torch sees one.

    Examples
    --------
    >>> tag = PriceTag("demo", wall_time_s=12.34, examples_seen=1000, metrics={"eval_accuracy": 0.912})
    >>> tag.markdown_row(["eval_accuracy"])
    '| demo | 12.3 | 0 | 1,000 | 0 | 0.0 | 0 | 0 | 0 | 0.912 |'
    """

    run_name: str
    model_name: str = ""
    n_parameters: int = 0
    device: str = "cpu"
    wall_time_s: float = 0.0
    optimizer_steps: int = 0
    epochs: float = 0.0
    examples_seen: int = 0
    tokens_seen: int = 0
    padded_tokens_seen: int = 0
    examples_per_second: float = 0.0
    tokens_per_second: float = 0.0
    train_flops: float = 0.0
    flops_measured_steps: int = 0
    flops_method: str = ""
    trainer_flops_estimate: float = 0.0
    peak_memory_mb: float = 0.0
    memory_method: str = ""
    energy_kwh: float = 0.0
    co2e_kg: float = 0.0
    energy_method: str = ""
    started_at: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the price tag as JSON to ``path`` atomically (a folder gets ``price_tag.json`` inside)."""
        path = Path(path)
        if path.suffix != ".json":
            path = path / "price_tag.json"
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> PriceTag:
        """Read a price tag written by :meth:`save` (a ``.json`` file or the folder holding ``price_tag.json``)."""
        path = Path(path)
        if path.is_dir():
            path = path / "price_tag.json"
        if not path.is_file():
            raise FileNotFoundError(f"No price tag at {str(path)!r}; BudgetCallback writes price_tag.json in output_dir.")
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @staticmethod
    def markdown_header(metrics: Sequence[str] | None = None) -> str:
        """The header and separator lines matching :meth:`markdown_row` with the same ``metrics``."""
        names = [name for name, _, _ in _MARKDOWN_COLUMNS] + list(metrics or [])
        return "| " + " | ".join(names) + " |\n|" + "---|" * len(names)

    def markdown_row(self, metrics: Sequence[str] | None = None) -> str:
        """One Markdown table row; ``metrics`` names entries of ``self.metrics`` to append as columns (an entry
        the tag lacks gives an empty cell)."""
        cells = [fmt(getattr(self, attribute)) for _, attribute, fmt in _MARKDOWN_COLUMNS]
        for name in metrics or []:
            value = self.metrics.get(name)
            cells.append("" if value is None else f"{value:.4g}")
        return "| " + " | ".join(cells) + " |"

    def __str__(self) -> str:
        metrics = sorted(self.metrics)
        return self.markdown_header(metrics) + "\n" + self.markdown_row(metrics)
