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
    measured (codecarbon) or estimated, and from what.

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
