"""Stored runs → tidy pandas frames → comparison table. Everything here reads; nothing trains."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ablations.metrics import METRICS, PER_RUN
from ablations.run_record import RunRecord
from ablations.spec import Ablation, Expectation
from ablations.stats import Interval, mean_ci, overall_verdict, paired_difference_ci, verdict

# Runs are compared only within one preset, corpus, shared design (base config + training) and LR.
GROUP = ["preset", "corpus_label", "design", "lr"]


def load_runs(results_dir: str | Path, ablation: str) -> pd.DataFrame:
    """One row per finished run: its summary, each registered metric as the number tables show and claims
    test (a per-layer metric's maximum; its list stays in `<name>_per_layer`). When a variant's definition
    changed, the older runs of the same (design, variant, seed) are flagged `superseded` and left out of
    comparisons."""
    frame = pd.DataFrame([record.read_summary() for record in RunRecord.done(results_dir, ablation)])
    if not frame.empty:
        for metric in PER_RUN:
            raw = frame[metric.name] if metric.name in frame else pd.Series(None, index=frame.index, dtype=object)
            if metric.per_layer:
                frame[f"{metric.name}_per_layer"] = raw
            frame[metric.name] = raw.map(metric.value).astype(float)
        frame["lr"] = frame["train"].map(lambda train: train["lr"])
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


def _speed_comparable(group: pd.DataFrame) -> bool:
    """Speed figures compare only when measured on one device under one concurrency."""
    return group["device"].nunique() == 1 and group["concurrency"].nunique() == 1


def _judge(expectation: Expectation, diff: Interval, group: pd.DataFrame, ablation: Ablation) -> str:
    if METRICS[expectation.metric].device_dependent:
        return verdict(expectation, diff) if _speed_comparable(group) else "inconclusive"
    # A seed on which only the treatment diverged counts against a loss claim; the pairs cannot show it.
    diverged = group[group["diverged"]].groupby("variant")["seed"].agg(set)
    if diverged.get(ablation.treatment, set()) - diverged.get(ablation.baseline, set()):
        return "contradicted"
    return verdict(expectation, diff)


def compare(runs: pd.DataFrame, ablation: Ablation) -> pd.DataFrame:
    """Tidy table: one row per (group, variant, registered per-run metric) with the mean over finished seeds
    and its CI, and for non-baseline variants the paired difference to the baseline with its CI and, where
    the claim names the metric, the verdict. Diverged runs are counted, never averaged."""
    expected = {e.metric: e for e in ablation.expectations}
    absent = [m.name for m in PER_RUN if m.name not in runs]  # summaries written before a metric was registered
    runs = runs.assign(**dict.fromkeys(absent, math.nan))
    rows = []
    for key, group in runs[~runs["superseded"]].groupby(GROUP, sort=True):
        ok = group[~group["diverged"]]
        baseline = ok[ok["variant"] == ablation.baseline].set_index("seed")
        for variant in ablation.variants:
            mine = ok[ok["variant"] == variant].set_index("seed")
            seeds = sorted(set(mine.index) & set(baseline.index))
            counts = dict(runs=int((group["variant"] == variant).sum()),
                          diverged=int(group.loc[group["variant"] == variant, "diverged"].sum()))
            for metric in (m.name for m in PER_RUN):
                level = mean_ci(mine[metric].dropna())
                row = dict(zip(GROUP, key), variant=variant, metric=metric, **counts,
                           mean=level.mean, ci_low=level.low, ci_high=level.high)
                if variant != ablation.baseline:
                    both = pd.concat([mine.loc[seeds, metric], baseline.loc[seeds, metric]], axis=1).dropna()
                    diff = paired_difference_ci(both.iloc[:, 0], both.iloc[:, 1])
                    # Half the CI's width: the smallest effect this many seeds could tell from zero.
                    row.update(diff_mean=diff.mean, diff_low=diff.low, diff_high=diff.high, pairs=diff.n,
                               detectable=(diff.high - diff.low) / 2)
                    if variant == ablation.treatment and metric in expected:
                        row.update(expected=expected[metric].direction, paper=ablation.paper.get(metric, ""),
                                   verdict=_judge(expected[metric], diff, group, ablation))
                rows.append(row)
    return pd.DataFrame(rows)


def judged(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that carry a verdict (none when no row of the table does)."""
    return table.dropna(subset=["verdict"]) if "verdict" in table else table.iloc[0:0]


def claim_verdicts(table: pd.DataFrame) -> dict[tuple[str, ...], str]:
    """(preset, corpus_label, design) → verdict on the whole claim."""
    return {key: overall_verdict(list(g["verdict"])) for key, g in judged(table).groupby(GROUP)}


SWEEP_GROUP = ["preset", "corpus_label", "design"]  # GROUP without the LR: a sweep spans LRs


def capped_loss(runs: pd.DataFrame) -> pd.Series:
    """Final validation loss with a diverged run (or one worse than chance) scored as the loss at
    initialisation, log(vocab): the cap Wortsman et al. 2023 describe (that detail is unverified)."""
    chance = runs["model"].map(lambda model: math.log(model["vocab_size"]))
    return runs["final_val_loss"].where(~runs["diverged"], chance).clip(upper=chance)


def lr_sensitivity(runs: pd.DataFrame, ablation: Ablation) -> pd.DataFrame:
    """Wortsman et al. 2023's LR sensitivity: per seed, the mean over the LR sweep of (capped final loss −
    the best of them). One row per (sweep group, variant) over seeds that finished every LR of the sweep,
    with the paired difference to the baseline and, where the ablation claims it, the verdict."""
    ok = runs[~runs["superseded"]].assign(capped=lambda frame: capped_loss(frame))
    claim = next((e for e in ablation.expectations if e.metric == "lr_sensitivity"), None)
    rows = []
    for key, group in ok.groupby(SWEEP_GROUP, sort=True):
        lrs = sorted(group["lr"].unique())
        if len(lrs) < 2:
            continue
        table = group.pivot_table(index=["variant", "seed"], columns="lr", values="capped").dropna()  # full sweeps only
        per_seed = table.sub(table.min(axis=1), axis=0).mean(axis=1)
        baseline = per_seed.get(ablation.baseline, pd.Series(dtype=float))
        for variant in ablation.variants:
            mine = per_seed.get(variant, pd.Series(dtype=float))
            level = mean_ci(mine)
            row = dict(zip(SWEEP_GROUP, key), lrs=lrs, variant=variant, mean=level.mean, ci_low=level.low,
                       ci_high=level.high, seeds=level.n)
            if variant != ablation.baseline:
                seeds = sorted(set(mine.index) & set(baseline.index))
                diff = paired_difference_ci(mine[seeds], baseline[seeds])
                row.update(diff_mean=diff.mean, diff_low=diff.low, diff_high=diff.high, pairs=diff.n)
                if claim is not None and variant == ablation.treatment:
                    row.update(expected=claim.direction, paper=ablation.paper.get(claim.metric, ""),
                               verdict=verdict(claim, diff))
            rows.append(row)
    return pd.DataFrame(rows)
