"""docs/results/selection_price.md: maps worth their compute. How well cheap data maps agree with the full map and
what they cost; whether a third chosen by a cheap map pays for its map (SST-2, 10k sentences); cross-fitted maps
against the in-sample map and cleanlab for label errors.

A raw file that does not exist yet gives a sentence saying so instead of a table (its command is on the page), so
the page is complete before its runs are and fills in at the next `make results`."""
from __future__ import annotations

import numpy as np
import pandas as pd

from greennlp.budgets import paired_difference

from . import (
    MINUS,
    RESULTS,
    _wrap_command,
    compare,
    difference,
    mean_std,
    provenance,
    ratio,
    rows,
    table,
    verdict,
    wrap,
)

AGREEMENT = "selection_price_agreement_sst2_10k.jsonl"
SELECTION = "selection_price_sst2_10k.jsonl"
CARTOGRAPHY = "cartography_sst2_10k_minilm.jsonl"
LABEL_ERRORS = "label_errors_sst2_minilm.jsonl"
CROSSFIT = "label_errors_crossfit_sst2_minilm.jsonl"
#: the commands that write each raw file, shown while it has no rows
COMMANDS = {
    AGREEMENT: "python scripts/selection_price.py --stage maps --seeds 0 1 2",
    SELECTION: "python scripts/selection_price.py --stage select --seeds 0 1 2",
    LABEL_ERRORS: ("python scripts/label_errors_sst2.py --model sentence-transformers/all-MiniLM-L6-v2 --train-size "
                   "4000 --epochs 2 --learning-rate 5e-5 --seeds 0 1 2 --output-dir runs/label-errors-minilm "
                   "--results docs/results/label_errors_sst2_minilm.jsonl"),
    CROSSFIT: ("python scripts/label_errors_sst2.py --model sentence-transformers/all-MiniLM-L6-v2 --train-size 4000 "
               "--epochs 2 --learning-rate 5e-5 --seeds 0 1 2 --methods cross-fitted --output-dir "
               "runs/label-errors-minilm --results docs/results/label_errors_crossfit_sst2_minilm.jsonl"),
}
#: the cheap maps at the library's defaults (budgets.cheap_map), as the maps stage records them
KINDS = {"probe": "probe (linear, 10 epochs on frozen embeddings)", "proxy": "proxy (first 2 of 6 layers, 2 epochs)",
         "early": "early (first epoch, 2 snapshots)", "subsample": "subsample (10%, 3 epochs, 10 neighbours)"}
REFERENCE = "full (next seed)"
REGION_NAMES = {"ambiguous": "ambiguous", "easy-to-learn": "easy", "hard-to-learn": "hard"}
#: goals: a cheap map's price share at most this, and its ambiguous region overlapping the full map's at least this
GOAL_SHARE, GOAL_OVERLAP = 0.25, 0.60
#: selection that pays: total price at most this share of all the data, and within this many points of it
GOAL_TOTAL, GOAL_POINTS = 0.5, 0.5
IN_DOMAIN, VALIDATION = "sst2-dev", "validation"


def _have(*names: str) -> bool:
    return all((RESULTS / name).is_file() for name in names)


def _missing(*names: str) -> str:
    absent = [name for name in names if not (RESULTS / name).is_file()]
    return wrap("Not measured yet: " + " and ".join(f"`docs/results/{name}`" for name in absent)
                + (" holds" if len(absent) == 1 else " hold") + " no rows; the command above writes them.")


def _source(name: str) -> str:
    if _have(name):
        return provenance(name)
    return "```bash\n" + _wrap_command(COMMANDS[name]) + "\n```"


# --- cheap maps: agreement and price -------------------------------------------------------------------------------
def _agreement() -> pd.DataFrame:
    frame = rows(AGREEMENT)
    frame["share"] = frame["map_flops"] / frame["full_flops"]
    for region in REGION_NAMES:
        frame[f"overlap_{region}"] = [o[region] for o in frame["overlap"]]
        frame[f"chance_{region}"] = [c[region] for c in frame["chance"]]
    return frame


def agreement() -> str:
    """Per cheap map: price share (FLOPs; wall time is in the raw rows, but some of those runs shared the machine,
    so their seconds are no price), Spearman of confidence and variability, region overlaps."""
    if not _have(AGREEMENT):
        return _missing(AGREEMENT)
    frame = _agreement()
    body = []
    for kind in [*KINDS, REFERENCE]:
        part = frame[frame["map"] == kind]
        if part.empty:
            continue
        name = KINDS.get(kind, "full map of another seed (reference)")
        body.append([name, ratio(part["share"].mean()),
                     _mean_std(part["spearman_confidence"]), _mean_std(part["spearman_variability"]),
                     *[_mean_std(part[f"overlap_{region}"]) for region in REGION_NAMES]])
    cheap = frame[frame["map"].isin(list(KINDS))]
    chance = [_mean_std(cheap[f"chance_{region}"]) for region in REGION_NAMES]
    body.append(["chance (independent regions of the same sizes)", "", "", "", *chance])
    seeds = sorted(int(s) for s in frame["seed"].unique())
    return (table(["map", "price (FLOPs) vs full run", "Spearman confidence",
                   "Spearman variability", *[f"{name} overlap" for name in REGION_NAMES.values()]], body)
            + "\n\n" + wrap(
                f"Mean ± population std over seeds {', '.join(map(str, seeds))}. The full run is the cartography "
                "script's 100% run of the same seed (3 epochs on the 10,000 sentences; its map is the reference). "
                "Overlap: the share of the full map's region that the cheap map puts in the same region. The "
                "reference row compares the full maps of two seeds (seed s against seed s+1): how far two "
                "full runs agree. A map's price includes every forward pass it needs (embedding, scoring), "
                "priced from the model's config per example's tokens."))


def _mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    text = f"{values[0]:.2f}" if len(values) == 1 else f"{values.mean():.2f} ± {values.std():.2f}"
    return text.replace("-", MINUS)


def map_goal() -> str:
    """Inline: whether a map at most a quarter of the full price overlaps the full ambiguous region by 60%."""
    if not _have(AGREEMENT):
        return "not measured yet"
    frame = _agreement()
    means = frame[frame["map"].isin(list(KINDS))].groupby("map")[["share", "overlap_ambiguous"]].mean()
    cheap = means[means["share"] <= GOAL_SHARE]
    if cheap.empty:
        return f"not met: no cheap map cost at most {GOAL_SHARE:g}x the full run"
    best = cheap["overlap_ambiguous"].idxmax()
    share, overlap = cheap.loc[best, "share"], cheap.loc[best, "overlap_ambiguous"]
    words = "met" if overlap >= GOAL_OVERLAP else "not met"
    return (f"{words}: the best map at no more than {GOAL_SHARE:g}x the full run's FLOPs is the {best} map "
            f"({ratio(share)}), whose ambiguous region holds {100 * overlap:.0f}% of the full map's "
            f"(goal {100 * GOAL_OVERLAP:.0f}%; {len(cheap)} of {len(means)} maps were that cheap)")


# --- selection priced end to end -----------------------------------------------------------------------------------
CARTOGRAPHY_METHODS = {"100%": "all the data", "random": "random third", "ambiguous": "full map: ambiguous third",
                       "ambiguous+easy": "full map: ambiguous + 25% easy", "easy-to-learn": "full map: easy third"}
RANDOM_AT_PRICE = "random, map budget as data"


def _selection() -> pd.DataFrame:
    """Cartography rows and selection rows in one frame: ``method``, ``seed``, ``size``, accuracies, ``correct``,
    ``price`` (map + training FLOPs as a share of the seed's full run)."""
    carto = rows(CARTOGRAPHY)
    carto = carto[carto["subset"].isin(list(CARTOGRAPHY_METHODS))
                  & (carto.get("train_set", pd.Series("sst2", index=carto.index)) == "sst2")].copy()
    full = carto[carto["subset"] == "100%"].set_index("seed")["train_flops"]
    carto["method"] = carto["subset"].map(CARTOGRAPHY_METHODS)
    mine = rows(SELECTION)
    frame = pd.concat([carto, mine], ignore_index=True)
    frame["price"] = (frame["map_flops"].fillna(0) + frame["train_flops"]) / frame["seed"].map(full)
    return frame


def _order(frame: pd.DataFrame) -> list[str]:
    mine = [m for m in dict.fromkeys(rows(SELECTION)["method"]) if m != RANDOM_AT_PRICE]
    order = ["all the data", "random third", *mine, RANDOM_AT_PRICE, "full map: ambiguous third",
             "full map: ambiguous + 25% easy", "full map: easy third"]
    return [m for m in order if m in set(frame["method"])]


def _payback(price: float, subset_price: float) -> str:
    """Trainings on the subset after which map + subsets cost less than as many full runs: map / (1 - subset)."""
    up_front = price - subset_price
    if subset_price >= 0.999 and up_front <= 0:
        return ""
    if up_front <= 0:
        return "no map"
    if subset_price >= 1:
        return "never"
    return f"{int(np.floor(up_front / (1 - subset_price))) + 1}"


def selection() -> str:
    """Accuracy and whole price of every third (and of the random subset given the map's budget)."""
    if not _have(SELECTION, CARTOGRAPHY):
        return _missing(SELECTION, CARTOGRAPHY)
    frame = _selection()
    body = []
    for method in _order(frame):
        part = frame[frame["method"] == method]
        subset = float((part["train_flops"] / part["seed"].map(
            frame[frame["method"] == "all the data"].set_index("seed")["train_flops"])).mean())
        price = float(part["price"].mean())
        body.append([method, f"{int(part['size'].iloc[0]):,}", mean_std(part[IN_DOMAIN]), mean_std(part[VALIDATION]),
                     ratio(price), _payback(price, subset)])
    seeds = sorted(int(s) for s in frame["seed"].unique())
    return (table(["subset", "examples", "SST-2 dev", "validation (1,000 held-out train sentences)",
                   "price (FLOPs, map included) vs all the data", "cheaper than all the data from the n-th training"],
                  body)
            + "\n\n" + wrap(
                f"Mean ± population std over seeds {', '.join(map(str, seeds))}. Price: the subset's training FLOPs "
                "plus its map's (the full run for a full-map third, the cheap map's price for a cheap-map third), "
                "over the full run of the same seed. The last column: the number of trainings on the subset after "
                "which one map and n trainings on its subset cost less than n trainings on all the data (1: from "
                "the first)."))


def differences() -> str:
    """Paired differences of the cheap-map thirds against all the data, the random third and random at equal price."""
    if not _have(SELECTION, CARTOGRAPHY):
        return _missing(SELECTION, CARTOGRAPHY)
    frame = _selection()
    mine = [m for m in dict.fromkeys(rows(SELECTION)["method"]) if m != RANDOM_AT_PRICE]
    baselines = ["all the data", "random third", RANDOM_AT_PRICE]
    body, count, outside = [], 0, 0
    for method in mine:
        for metric, label in ((IN_DOMAIN, "SST-2 dev"), (VALIDATION, "validation")):
            cells = []
            for baseline in baselines:
                result = compare(frame, metric, {"method": method}, {"method": baseline})
                count += 1
                outside += result.verdict != "level"
                text = f"{difference(result)} ({result.seeds_ahead}/{result.seeds})"
                cells.append(f"**{text}**" if result.verdict != "level" else text)
            body.append([method, label, *cells])
    return (table(["subset", "evaluated on", "minus all the data", "minus a random third",
                   "minus random at the same price"], body)
            + "\n\n" + wrap(
                "Points of accuracy, paired by seed: mean [95% interval over evaluation examples and seeds] (seeds "
                "ahead). Bold: the interval excludes zero. Random at the same price is a random subset given the "
                "cheap map's FLOPs as more data (a third plus the map's share of the full run). "
                f"{count} comparisons are in this table; with 95% intervals about {count / 20:.1f} of them would "
                f"exclude zero by chance alone, and {outside} do."))


def pays() -> str:
    """Inline verdict on selection that pays: the cheap-map third chosen on the validation split, reported on dev."""
    if not _have(SELECTION, CARTOGRAPHY):
        return "not measured yet"
    frame = _selection()
    mine = [m for m in dict.fromkeys(rows(SELECTION)["method"]) if m != RANDOM_AT_PRICE]
    # the choice between the cheap-map thirds is made on the validation split, the claim on SST-2 dev
    chosen = max(mine, key=lambda m: frame.loc[frame["method"] == m, VALIDATION].mean())
    price = float(frame.loc[frame["method"] == chosen, "price"].mean())
    near = compare(frame, IN_DOMAIN, {"method": chosen}, {"method": "all the data"})
    even = compare(frame, IN_DOMAIN, {"method": chosen}, {"method": RANDOM_AT_PRICE})
    cheap, close, ahead = price <= GOAL_TOTAL, near.mean * 100 >= -GOAL_POINTS, even.verdict == "ahead"
    words = "met" if cheap and close and ahead else "not met"
    return (f"{words}: {chosen} (the better of {len(mine)} cheap-map thirds on the validation split) costs "
            f"{ratio(price)} all the data, is {difference(near)} points against it on SST-2 dev and "
            f"{difference(even)} points against random at the same price ({verdict(even)})")


# --- label errors -------------------------------------------------------------------------------------------------
LABEL_METHODS = ("data map (aum)", "data map (confidence)", "cleanlab (top k)", "cross-fitted map (confidence)",
                 "cross-fitted map, last epoch (confidence)")
CLEANLAB = "cleanlab (top k)"
CROSSFIT_PRIMARY = "cross-fitted map (confidence)"


#: the docs' recipe: rows of other settings in the same files are left out
RECIPE = {"model": "sentence-transformers/all-MiniLM-L6-v2", "train_size": 4000, "noise": 0.1, "epochs": 2}


def _label_rows() -> pd.DataFrame:
    frame = pd.concat([rows(LABEL_ERRORS), rows(CROSSFIT)], ignore_index=True)
    mask = frame["method"].isin(LABEL_METHODS)
    for key, value in RECIPE.items():
        mask &= frame[key] == value
    return frame[mask].drop_duplicates(["method", "seed"], keep="last").copy()


def _found(frame: pd.DataFrame, method: str) -> dict:
    part = frame[frame["method"] == method].set_index("seed").sort_index()
    return {int(seed): np.asarray(found) for seed, found in part["found"].items()}


def label_errors() -> str:
    """Recall at the noise rate of each ranking, its training FLOPs against cleanlab's, and its difference."""
    if not _have(LABEL_ERRORS, CROSSFIT):
        return _missing(LABEL_ERRORS, CROSSFIT)
    frame = _label_rows()
    cleanlab_flops = frame.loc[frame["method"] == CLEANLAB].set_index("seed")["train_flops"]
    baseline = _found(frame, CLEANLAB)
    body = []
    for method in LABEL_METHODS:
        part = frame[frame["method"] == method]
        if part.empty:
            continue
        share = float((part.set_index("seed")["train_flops"] / cleanlab_flops).mean())
        scoring = part["scoring_flops"] if "scoring_flops" in part.columns else pd.Series(dtype=float)
        scoring_share = (float((part.set_index("seed")["scoring_flops"] / cleanlab_flops).mean())
                         if scoring.notna().any() else None)
        against = ""
        if method != CLEANLAB:
            mine = _found(frame, method)
            seeds = sorted(set(mine) & set(baseline))
            result = paired_difference({s: mine[s] for s in seeds}, {s: baseline[s] for s in seeds})
            against = f"{difference(result)} ({verdict(result)})"
        body.append([method, int(part["trainings"].iloc[0]), mean_std(part["recall"]), ratio(share),
                     "" if scoring_share is None else ratio(scoring_share, 3), against])
    seeds = sorted(int(s) for s in frame["seed"].unique())
    return (table(["ranking", "trainings", "recall of the flips in the top k", "training FLOPs vs cleanlab",
                   "scoring FLOPs vs cleanlab's training", "recall minus cleanlab (top k), points"], body)
            + "\n\n" + wrap(
                f"SST-2, 4,000 sentences with 10% of the labels flipped (seeded by the seed), all-MiniLM-L6-v2, 2 "
                f"epochs, lr 5e-5; seeds {', '.join(map(str, seeds))}, mean ± population std. k is the number of "
                "flips; recall in the top k equals precision there. Differences are paired by seed over the "
                "flipped examples (each found or not) with a 95% bootstrap interval. Two cross-fitted rankings were "
                "tried (mean out-of-sample p(gold) over the epochs, and the last epoch's); the first is the "
                "library's (label_errors(by='confidence')) and the one the verdict below uses. cleanlab's own "
                "prediction pass over its held-out folds (one forward pass over the data) is not in its FLOPs; "
                "the cross-fitted map's scoring passes (one per epoch) are in their own column."))


def crossfit_goal() -> str:
    """Inline verdict: cross-fitted recall at least cleanlab's at no more than a quarter of its training FLOPs."""
    if not _have(LABEL_ERRORS, CROSSFIT):
        return "not measured yet"
    frame = _label_rows()
    mine, baseline = _found(frame, CROSSFIT_PRIMARY), _found(frame, CLEANLAB)
    seeds = sorted(set(mine) & set(baseline))
    result = paired_difference({s: mine[s] for s in seeds}, {s: baseline[s] for s in seeds})
    flops_of = frame.set_index(["method", "seed"])["train_flops"]
    share = float(np.mean([flops_of[(CROSSFIT_PRIMARY, s)] / flops_of[(CLEANLAB, s)] for s in seeds]))
    as_good = result.verdict != "behind"
    cheap = round(share, 2) <= 0.25
    words = "met" if as_good and cheap else "not met"
    return (f"{words}: recall {difference(result)} points against cleanlab's top k ({verdict(result)}) at "
            f"{ratio(share)} its training FLOPs")


FIGURES = {
    "agreement_source": lambda: _source(AGREEMENT),
    "agreement": agreement,
    "map_goal": map_goal,
    "selection_source": lambda: _source(SELECTION),
    "selection": selection,
    "differences": differences,
    "pays": pays,
    "label_errors_source": lambda: _source(LABEL_ERRORS),
    "crossfit_source": lambda: _source(CROSSFIT),
    "label_errors": label_errors,
    "crossfit_goal": crossfit_goal,
}
