"""Stored runs → tidy pandas frames: the runs that count today, descriptive comparisons and LR sensitivities
(claims.py turns them into verdicts). Everything here reads; nothing trains."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ablations.data.tokenizer import BYTES
from ablations.declare.metrics import PER_RUN
from ablations.declare.presets import PRESETS
from ablations.declare.spec import Ablation
from ablations.judge.stats import mean_ci, paired_difference_ci
from ablations.runs.resolve import config_key, resolve
from ablations.runs.run_record import RunRecord

# Runs are compared only within one preset, corpus, shared design (base config + training) and LR.
GROUP = ["preset", "corpus_label", "design", "lr"]
SWEEP_GROUP = ["preset", "corpus_label", "design"]  # GROUP without the LR: a sweep spans LRs
# A run that ends within this of a unigram model's loss learned byte frequencies and nothing of context.
DID_NOT_TRAIN_MARGIN = 0.1  # nats/byte
REFERENCE_MARKER = "reference-runs.md"  # its presence makes a results folder a reference one
COUNTED = "counted_for"  # frame attribute: the ablation (its repr) whose `current` runs these are


def results_to_read(mine: str | Path, committed: str | Path) -> Path:
    """$ABLATE_RESULTS when set; else your own runs (`mine`, where `ablate run` writes) when any has finished;
    else the committed reference runs, so a fresh clone shows something."""
    if "ABLATE_RESULTS" in os.environ:
        return Path(os.environ["ABLATE_RESULTS"])
    return Path(mine) if RunRecord.any_done(mine) else Path(committed)


def load_runs(results_dir: str | Path, ablation: str) -> pd.DataFrame:
    """One row per finished run: its summary, each registered metric as the number tables show and claims
    test (a per-layer metric's maximum; its list stays in `<name>_per_layer`), and its outcome: trained,
    diverged, or did not train. When a variant's definition changed, the older runs of the same (design,
    variant, seed) are flagged `superseded` and left out of comparisons."""
    frame = pd.DataFrame([record.read_summary() for record in RunRecord.done(results_dir, ablation)])
    if not frame.empty:
        for metric in PER_RUN:
            raw = frame[metric.name] if metric.name in frame else pd.Series(None, index=frame.index, dtype=object)
            if metric.per_layer:
                frame[f"{metric.name}_per_layer"] = raw
            frame[metric.name] = raw.map(metric.value).astype(float)
        frame["lr"] = frame["train"].map(lambda train: train["lr"])
        frame["outcome"] = _outcomes(frame)
        frame["provenance"] = (frame["git_commit"] if "git_commit" in frame else pd.Series(None, index=frame.index)).map(
            provenance)
        frame["eligible"] = frame["provenance"].eq("clean") | (not is_reference(results_dir))
        frame = frame.sort_values("finished_at", ignore_index=True)
        frame["superseded"] = frame.duplicated([*GROUP, "variant", "seed"], keep="last")
    return frame


def provenance(commit: object) -> str:
    """clean: trained from a committed tree; dirty: from uncommitted edits on top of one; unknown: no commit."""
    text = str(commit)
    base = text.removesuffix("-dirty")
    if len(base) != 40 or any(c not in "0123456789abcdef" for c in base):
        return "unknown"
    return "dirty" if text.endswith("-dirty") else "clean"


def is_reference(results_dir: str | Path) -> bool:
    """A folder of reference runs (the committed results/) counts only runs trained from a clean, committed tree."""
    return (Path(results_dir) / REFERENCE_MARKER).is_file()


def load_history(results_dir: str | Path, ablation: str, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The committed history (history.jsonl: every eval, train rows averaged into ~200 windows) of every
    finished run, tagged with its run's identity: tidy, one row per (split, step)."""
    runs = load_runs(results_dir, ablation) if runs is None else runs
    frames = []
    for run in runs.itertuples():
        rows = pd.DataFrame(RunRecord.at(results_dir, ablation, run.run_id).read_history())
        tags = dict(run_id=run.run_id, variant=run.variant, seed=run.seed, superseded=run.superseded)
        frames.append(rows.assign(**tags, **{key: getattr(run, key) for key in GROUP}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _outcomes(runs: pd.DataFrame) -> pd.Series:
    unigram = runs["unigram_val_loss"] if "unigram_val_loss" in runs else pd.Series(np.nan, index=runs.index)
    stuck = runs["final_val_loss"] > unigram.astype(float) - DID_NOT_TRAIN_MARGIN  # NaN (not recorded): trained
    return pd.Series(np.where(runs["diverged"], "diverged", np.where(stuck, "did not train", "trained")), index=runs.index)


def current(runs: pd.DataFrame, ablation: Ablation) -> pd.DataFrame:
    """The runs that count: of a declared variant, built and trained as the variant is declared today (a
    variant whose warm-up or architecture changed leaves its older runs out), and of those the latest per
    (group, variant, seed); in a reference folder, only runs from a clean, committed tree. One resolution per
    (preset, tokenizer, compile); configs compare as run ids do (fields at their defaults left out, so a field a
    stored run predates counts as its default), and a counted run takes today's design hash, so designs that
    differ only by the schema they were stored under are one group."""
    if runs.empty or runs.attrs.get(COUNTED) == repr(ablation):
        return runs
    declared = runs["variant"].isin(list(ablation.variants))
    stored = runs["tokenizer"] if "tokenizer" in runs else pd.Series(BYTES, index=runs.index)
    # The run's --tokenizer: the stored one, but bytes (the default) for runs from before the field and for a
    # variant that declares its own (whose stored tokenizer is its own, whatever --tokenizer said).
    own = runs["variant"].map(lambda v: v in ablation.variants and ablation.tokenizer(v, "") != "")
    tokenizers = stored.where(stored.map(lambda t: isinstance(t, str)) & ~own, BYTES)
    eligible = runs["eligible"] if "eligible" in runs else pd.Series(True, index=runs.index)
    keep, design = declared & eligible, runs["design"].copy()
    compiled = runs["compile"].fillna(False).astype(bool) if "compile" in runs else pd.Series(False, index=runs.index)
    for (preset, tokenizer, compile), part in runs[keep].assign(_tok=tokenizers, _c=compiled).groupby(["preset", "_tok", "_c"]):
        if preset not in PRESETS:
            continue  # a preset we do not know: trust the name
        resolved = resolve(ablation, preset, lrs=sorted(set(part["lr"])), tokenizer=tokenizer, compile=compile)
        keys = resolved.keys()
        stored = [config_key(model if isinstance(model, dict) else {}, train)
                  for model, train in zip(part["model"], part["train"])]
        keep[part.index] = [keys.get((v, lr)) == key for v, lr, key in zip(part["variant"], part["lr"], stored)]
        design[part.index] = resolved.hash  # a design stored under an older schema is today's when its configs are
    ok = runs.assign(design=design)[keep]
    counted = ok[~ok.duplicated([*GROUP, "variant", "seed"], keep="last")].assign(superseded=False)
    counted.attrs[COUNTED] = repr(ablation)  # passed on, these are not resolved again (attrs are copied, so a string)
    return counted


def compare(runs: pd.DataFrame, ablation: Ablation) -> pd.DataFrame:
    """Descriptive: one row per (group, variant, registered per-run metric) with the mean over finished seeds
    and its CI, and for non-baseline variants the paired difference to the baseline with its CI. Diverged
    runs are counted, never averaged."""
    absent = [m.name for m in PER_RUN if m.name not in runs]  # summaries written before a metric was registered
    runs = current(runs, ablation)
    runs = runs.assign(**dict.fromkeys(absent, math.nan))
    rows = []
    for key, group in runs.groupby(GROUP, sort=True):
        ok = group[group["outcome"] != "diverged"]
        baseline = ok[ok["variant"] == ablation.baseline].set_index("seed")
        for variant in ablation.variants:
            mine = ok[ok["variant"] == variant].set_index("seed")
            if not (group["variant"] == variant).any():
                continue
            seeds = sorted(set(mine.index) & set(baseline.index))
            outcomes = group.loc[group["variant"] == variant, "outcome"]
            counts = dict(runs=len(outcomes), diverged=int((outcomes == "diverged").sum()),
                          did_not_train=int((outcomes == "did not train").sum()))
            for metric in (m.name for m in PER_RUN):
                level = mean_ci(mine[metric].dropna())
                row = dict(zip(GROUP, key), variant=variant, metric=metric, **counts,
                           mean=level.mean, ci_low=level.low, ci_high=level.high)
                if variant != ablation.baseline:
                    both = pd.concat([mine.loc[seeds, metric], baseline.loc[seeds, metric]], axis=1).dropna()
                    diff = paired_difference_ci(both.iloc[:, 0], both.iloc[:, 1])
                    row.update(diff_mean=diff.mean, diff_low=diff.low, diff_high=diff.high, pairs=diff.n)
                rows.append(row)
    return pd.DataFrame(rows)


def capped_loss(runs: pd.DataFrame) -> pd.Series:
    """Final validation loss with a run that diverged scored as the loss at initialisation, log(vocab), and no
    loss above it: the cap Wortsman et al. 2023 describe (that detail is unverified). A run that finished stuck
    at the unigram level keeps its real loss: it trained to somewhere, and that is what its LR cost it."""
    chance = runs["model"].map(lambda model: math.log(model["vocab_size"]))
    diverged = runs["outcome"] == "diverged" if "outcome" in runs else runs["diverged"].astype(bool)
    return runs["final_val_loss"].where(~diverged, chance).clip(upper=chance)


def lr_sensitivity(runs: pd.DataFrame, ablation: Ablation, lrs: tuple[float, ...] = ()) -> pd.DataFrame:
    """Wortsman et al. 2023's LR sensitivity: per seed, the mean over the LR sweep of (capped final loss − the
    best of them). One row per (sweep group, variant) over seeds that finished every LR of the sweep, with
    the best-LR loss beside it (a variant that never trains has sensitivity 0 and a bad best loss)."""
    ok = current(runs, ablation)
    if ok.empty:
        return pd.DataFrame()
    ok = ok.assign(capped=capped_loss(ok))
    if lrs:
        ok = ok[ok["lr"].map(lambda lr: any(math.isclose(lr, mine) for mine in lrs))]
    rows = []
    for key, group in ok.groupby(SWEEP_GROUP, sort=True):
        sweep = sorted(group["lr"].unique())
        if len(sweep) < 2:
            continue
        table = group.pivot_table(index=["variant", "seed"], columns="lr", values="capped").dropna()  # full sweeps only
        per_seed = table.sub(table.min(axis=1), axis=0).mean(axis=1)
        trained = group.groupby("variant")["outcome"].agg(lambda o: bool((o == "trained").any()))
        for variant in ablation.variants:
            if variant not in per_seed.index.get_level_values(0):
                continue
            level, best = mean_ci(per_seed[variant]), mean_ci(table.loc[variant].min(axis=1))
            rows.append(dict(zip(SWEEP_GROUP, key), lrs=sweep, variant=variant, mean=level.mean, ci_low=level.low,
                             ci_high=level.high, seeds=level.n, best_lr_loss=best.mean,
                             trained_somewhere=bool(trained.get(variant, False)), per_seed=per_seed[variant]))
    return pd.DataFrame(rows)
