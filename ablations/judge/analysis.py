"""Stored runs → tidy pandas frames → descriptive comparisons and one verdict per claim. Everything here
reads; nothing trains."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ablations.data.tokenizer import BYTES
from ablations.declare.metrics import METRICS, PER_RUN
from ablations.declare.presets import PRESETS
from ablations.declare.spec import Ablation, Claim
from ablations.judge.speed_verdicts import judge_speed
from ablations.judge.stats import Interval, mean_ci, min_detectable_effect, paired_difference_ci, seeds_for, verdict
from ablations.runs.resolve import config_key, resolve
from ablations.runs.run_record import RunRecord

# Runs are compared only within one preset, corpus, shared design (base config + training) and LR.
GROUP = ["preset", "corpus_label", "design", "lr"]
SWEEP_GROUP = ["preset", "corpus_label", "design"]  # GROUP without the LR: a sweep spans LRs
# A run that ends within this of a unigram model's loss learned byte frequencies and nothing of context.
DID_NOT_TRAIN_MARGIN = 0.1  # nats/byte


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
        frame = frame.sort_values("finished_at", ignore_index=True)
        frame["superseded"] = frame.duplicated([*GROUP, "variant", "seed"], keep="last")
    return frame


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
    (group, variant, seed). One resolution per (preset, tokenizer); configs compare as run ids do (fields at
    their defaults left out, so a field a stored run predates counts as its default)."""
    if runs.empty:
        return runs
    declared = runs["variant"].isin(list(ablation.variants))
    tokenizers = runs["tokenizer"].where(runs["tokenizer"].map(type) == str, BYTES) if "tokenizer" in runs else BYTES
    keep = declared.copy()
    for (preset, tokenizer), part in runs[declared].assign(_tok=tokenizers).groupby(["preset", "_tok"]):
        if preset not in PRESETS:
            continue  # a preset we do not know: trust the name
        keys = resolve(ablation, preset, lrs=sorted(set(part["lr"])), tokenizer=tokenizer).keys()
        stored = [config_key(model if isinstance(model, dict) else {}, train)
                  for model, train in zip(part["model"], part["train"])]
        keep[part.index] = [keys.get((v, lr)) == key for v, lr, key in zip(part["variant"], part["lr"], stored)]
    ok = runs[keep]
    return ok[~ok.duplicated([*GROUP, "variant", "seed"], keep="last")]


def compare(runs: pd.DataFrame, ablation: Ablation) -> pd.DataFrame:
    """Descriptive: one row per (group, variant, registered per-run metric) with the mean over finished seeds
    and its CI, and for non-baseline variants the paired difference to the baseline with its CI. Diverged
    runs are counted, never averaged."""
    absent = [m.name for m in PER_RUN if m.name not in runs]  # summaries written before a metric was registered
    runs = current(runs.assign(**dict.fromkeys(absent, math.nan)), ablation)
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
    """Final validation loss with a run that diverged or did not train (or ended worse than chance) scored as
    the loss at initialisation, log(vocab): the cap Wortsman et al. 2023 describe (that detail is unverified)."""
    chance = runs["model"].map(lambda model: math.log(model["vocab_size"]))
    outcome = runs["outcome"] if "outcome" in runs else np.where(runs["diverged"], "diverged", "trained")
    return runs["final_val_loss"].where(pd.Series(outcome, index=runs.index) == "trained", chance).clip(upper=chance)


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


def _differences(claim: Claim, arms: dict[str, pd.Series]) -> pd.Series:
    """Per seed, treatment − baseline, or the interaction (treatment − baseline) − (minus[0] − minus[1])."""
    diff = arms[claim.treatment] - arms[claim.baseline]
    if claim.minus:
        diff = diff - (arms[claim.minus[0]] - arms[claim.minus[1]])
    return diff.dropna()


def _seeds_needed(claim: Claim, diff: Interval, sd: float) -> float:
    """Pairs that detect the claim's target with 80% power; for a bounded claim (matches, not higher), pairs that
    tell the observed effect from the margin, NaN when it lies at or beyond the margin (more pairs cannot help)."""
    if diff.n < 2:
        return math.inf  # no spread to plan from: run more seeds
    if not sd > 0:
        return diff.n
    if claim.direction in ("matches", "not_higher"):
        room = claim.margin - (abs(diff.mean) if claim.direction == "matches" else diff.mean)
        return seeds_for(room, sd) if room > 0 else math.nan
    return seeds_for(claim.target, sd)


def _row(claim: Claim, diff: Interval, sd: float, note: str, **where) -> dict:
    metric = METRICS[claim.metric]
    return dict(**where, says=claim.says, metric=claim.metric, unit=metric.unit, direction=claim.direction,
                margin=claim.margin, target=claim.target, treatment=claim.treatment, baseline=claim.baseline,
                minus=" − ".join(claim.minus) if claim.minus else "", paper=claim.paper, diff_mean=diff.mean,
                diff_low=diff.low, diff_high=diff.high, pairs=diff.n, sd=sd,
                detectable=min_detectable_effect(sd, diff.n) if diff.n >= 2 else math.nan,
                seeds_needed=_seeds_needed(claim, diff, sd),
                verdict=verdict(claim, diff) if not note.startswith("not scored") else "not scored", note=note)


def _judge_per_run(claim: Claim, runs: pd.DataFrame) -> list[dict]:
    metric, rows = METRICS[claim.metric], []
    for key, group in runs.groupby(GROUP, sort=True):
        if not claim.applies_at(key[-1]) or not set(claim.variants) <= set(group["variant"]):
            continue
        arm_runs = {v: group[group["variant"] == v].set_index("seed") for v in claim.variants}
        baseline_trained = arm_runs[claim.baseline]["outcome"] == "trained"
        arms = {v: r[metric.name].where(r["outcome"] != "diverged") for v, r in arm_runs.items()}
        note = ""
        if claim.minus is None and not baseline_trained.any():
            note = f"not scored: the baseline {claim.baseline} never trained (diverged or stuck at the unigram level)"
        elif claim.minus is None:  # pairs whose baseline did not train say nothing about the treatment
            arms[claim.baseline] = arms[claim.baseline].where(baseline_trained)
        diffs = _differences(claim, arms)
        interval = mean_ci(diffs)
        sd = float(diffs.std(ddof=1)) if len(diffs) >= 2 else math.nan
        against = metric.kind == "loss" and claim.direction != "higher"  # divergence speaks against "lower or equal"
        if against and not note:  # a seed on which only the treatment diverged counts against the claim
            diverged = {v: set(r.index[r["outcome"] == "diverged"]) for v, r in arm_runs.items()}
            if diverged[claim.treatment] & set(arm_runs[claim.baseline].index) - diverged[claim.baseline]:
                note = f"{claim.treatment} diverged where {claim.baseline} did not"
        if claim.minus and len(diffs) < len(arm_runs[claim.treatment]):
            note = "; ".join(filter(None, [note, f"{len(arm_runs[claim.treatment]) - len(diffs)} seed(s) without all four "
                                                 "arms trained or finished left out"]))
        row = _row(claim, interval, sd, note, **dict(zip(GROUP, key)), lrs=f"{key[-1]:g}")
        if note.startswith(f"{claim.treatment} diverged"):
            row["verdict"] = "contradicted"
        row["note"] = "; ".join(filter(None, [row["note"], _size_note(claim, group)]))
        rows.append(row)
    return rows


def _judge_sweep(claim: Claim, runs: pd.DataFrame, ablation: Ablation) -> list[dict]:
    table, rows = lr_sensitivity(runs, ablation, claim.lrs or ablation.lrs), []  # the declared sweep, not stray LRs
    if table.empty:
        return rows
    for key, part in table.groupby(SWEEP_GROUP, sort=True):
        arms = part.set_index("variant")
        if not set(claim.variants) <= set(arms.index):
            continue
        diffs = _differences(claim, {v: arms.loc[v, "per_seed"] for v in claim.variants})
        never = [v for v in claim.variants if not arms.loc[v, "trained_somewhere"]]
        note = f"not scored: {', '.join(never)} never trained at any LR of the sweep" if never else ""
        best = ", ".join(f"{v} {arms.loc[v, 'best_lr_loss']:.3f}" for v in claim.variants)
        sd = float(diffs.std(ddof=1)) if len(diffs) >= 2 else math.nan
        row = _row(claim, mean_ci(diffs), sd, note, **dict(zip(SWEEP_GROUP, key)), lr=math.nan,
                   lrs=", ".join(f"{lr:g}" for lr in part["lrs"].iloc[0]))
        row["note"] = "; ".join(filter(None, [note, f"best-LR loss: {best}"]))
        rows.append(row)
    return rows


def _size_note(claim: Claim, group: pd.DataFrame) -> str:
    """The parameter difference of treatment and baseline, within one comparison group."""
    if "params" not in group:
        return ""
    params = group.groupby("variant")["params"].first()
    if {claim.treatment, claim.baseline} <= set(params.index):
        change = params[claim.treatment] / params[claim.baseline] - 1
        return f"{claim.treatment} has {change:+.1%} parameters" if abs(change) >= 0.0005 else ""
    return ""


def _not_run(claim: Claim) -> dict:
    return _row(claim, Interval(math.nan, math.nan, math.nan, 0), math.nan, "its variants have no finished runs to pair",
                preset="", corpus_label="", lrs="") | dict(verdict="not run", seeds_needed=math.nan)


def judge(runs: pd.DataFrame, ablation: Ablation, speed: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per claim and comparison group (per LR; per sweep for an LR sensitivity): the paired effect
    and its 95% CI, the minimum detectable effect at 80% power, the seeds the target needs, the verdict and
    a note. Speed claims are judged on the paired speed benchmark (`speed`), never on training runs."""
    ok = current(runs, ablation) if not runs.empty else runs
    rows = []
    for claim in ablation.claims:
        metric = METRICS[claim.metric]
        if metric.device_dependent:
            rows += judge_speed(claim, speed)
            continue
        if runs.empty:
            continue
        found = [] if ok.empty else _judge_sweep(claim, runs, ablation) if metric.across_runs else _judge_per_run(claim, ok)
        rows += found or [_not_run(claim)]
    return pd.DataFrame(rows)
