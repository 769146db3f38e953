"""docs/results/budgets.md: an SST-2 data-budget curve (which data to keep when training a small model from scratch,
and what each choice costs, the data map included)."""
from __future__ import annotations

from functools import partial

import numpy as np

from . import compare, difference, flops, mean_std, meta, provenance, ratio, rows, table, verdict

CURVE = "budget_curve_sst2_tiny.parquet"
METRICS = {"accuracy_dev": "SST-2 dev", "accuracy_imdb": "IMDB", "accuracy_cr": "CR"}
NAMES = {"random": "random", "ambiguous": "ambiguous", "easy": "easy-to-learn", "hard": "hard-to-learn",
         "full": "all the data"}
MAP_CHOSEN = {"ambiguous", "easy", "hard"}


def _points() -> list[tuple[str, float]]:
    frame = rows(CURVE)
    return list(dict.fromkeys((s, float(f)) for s, f in zip(frame.strategy, frame.fraction, strict=True)))


def _select(strategy: str, fraction: float) -> dict:
    return {"strategy": strategy} if strategy == "full" else {"strategy": strategy, "fraction": fraction}


def _map_flops() -> float:
    """The map's run, estimated from the full runs: the same training set for map_epochs instead of epochs (FLOPs
    follow the tokens processed); its own FLOPs were not recorded."""
    info = meta(CURVE)
    frame = rows(CURVE)
    return float(frame.loc[frame.strategy == "full", "train_flops"].mean()) * info["map"]["epochs"] / info["epochs"]


def _price(strategy: str, fraction: float) -> float:
    """Mean train FLOPs of a point, plus the map's run for a map-chosen subset, as a multiple of the full run."""
    frame = rows(CURVE)
    full = float(frame.loc[frame.strategy == "full", "train_flops"].mean())
    own = frame.loc[(frame.strategy == strategy) & (frame.fraction == fraction), "train_flops"].mean()
    return (float(own) + (_map_flops() if strategy in MAP_CHOSEN else 0.0)) / full


def curve() -> str:
    """Mean ± std over seeds per strategy and fraction, with train FLOPs and the whole price."""
    frame = rows(CURVE)
    body = []
    for strategy, fraction in sorted(_points(), key=lambda p: (p[1], list(NAMES).index(p[0]))):
        part = frame[(frame.strategy == strategy) & (frame.fraction == fraction)]
        body.append([NAMES[strategy], f"{fraction:g}", f"{int(part.n_train.iloc[0]):,}",
                     *[mean_std(part[m]) for m in METRICS], flops(part.train_flops.mean()),
                     ratio(_price(strategy, fraction))])
    seeds = sorted(int(s) for s in frame.seed.unique())
    return (table(["subset", "fraction", "examples", *METRICS.values(), "train FLOPs",
                   "price (FLOPs, map included) vs all the data"], body)
            + f"\n\nMean ± population std over seeds {', '.join(map(str, seeds))} (ddof=0); train FLOPs are means "
            "(padding included, as computed). The price of a map-chosen subset adds the run that recorded the "
            f"map, estimated at {meta(CURVE)['map']['epochs']}/{meta(CURVE)['epochs']} of the full run's FLOPs (the "
            "same training set for fewer epochs; that run's own FLOPs were not recorded). Random subsets need no "
            "map.")


def differences(baseline: str) -> str:
    """Each subset minus ``baseline`` (``random`` at the same fraction, or ``full``), paired by seed."""
    frame = rows(CURVE)
    body, count, outside = [], 0, 0
    for strategy, fraction in sorted(_points(), key=lambda p: (p[1], list(NAMES).index(p[0]))):
        if strategy == "full" or strategy == baseline:
            continue
        cells = []
        for metric in METRICS:
            result = compare(frame, metric, _select(strategy, fraction), _select(baseline, fraction))
            count += 1
            outside += result.verdict != "level"
            text = f"{difference(result)} ({result.seeds_ahead}/{result.seeds})"
            cells.append(f"**{text}**" if result.verdict != "level" else text)
        body.append([NAMES[strategy], f"{fraction:g}", *cells])
    against = "random at the same fraction" if baseline == "random" else "all the data"
    return (table(["subset", "fraction", *METRICS.values()], body)
            + f"\n\nPoints of accuracy minus {against}, paired by seed: mean [95% interval over seeds only; these "
            "runs kept no per-example results] (seeds ahead). Bold: the interval excludes zero. "
            f"{count} comparisons; at 95% about {count / 20:.1f} would exclude zero by chance alone, and "
            f"{outside} do.")


def claim() -> str:
    """Inline: a random half of the data against all of it, in domain, and its price."""
    frame = rows(CURVE)
    result = compare(frame, "accuracy_dev", {"strategy": "random", "fraction": 0.5}, {"strategy": "full"})
    return (f"{difference(result)} points on SST-2 dev ({verdict(result)}) at "
            f"{ratio(_price('random', 0.5))} the training FLOPs")


def seconds_note() -> str:
    """Inline: wall time is not the cost to compare here; how far it strays from FLOPs."""
    frame = rows(CURVE)
    per_flop = frame.train_time_s / frame.train_flops
    return f"{ratio(float(np.max(per_flop) / np.min(per_flop)), 1)}"


FIGURES = {
    "source": partial(provenance, CURVE),
    "curve": curve,
    "vs_random": partial(differences, "random"),
    "vs_full": partial(differences, "full"),
    "claim": claim,
    "seconds_spread": seconds_note,
}
