"""Claims judged on training runs: per comparison group (one LR) or per LR sweep, the paired effect of
treatment − baseline, and one Verdict each; speed claims go to their paired benchmarks."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime

import pandas as pd

from ablations.declare.metrics import METRICS
from ablations.declare.spec import Ablation, Claim
from ablations.judge.analysis import GROUP, SWEEP_GROUP, current, lr_sensitivity
from ablations.judge.registration import UNCOMMITTED, Registration, lookup, registrations
from ablations.judge.speed_verdicts import judge_speed
from ablations.judge.stats import Interval, mean_ci, min_detectable_effect, seeds_for, stein_interval, stein_seeds
from ablations.judge.verdict import COLUMNS, CONTRADICTED, NO_EFFECT, NOT_RUN, NOT_SCORED, Verdict, Where, decide


def _differences(claim: Claim, arms: dict[str, pd.Series]) -> pd.Series:
    """Per seed, treatment − baseline, or the interaction (treatment − baseline) − (minus[0] − minus[1])."""
    diff = arms[claim.treatment] - arms[claim.baseline]
    if claim.minus:
        diff = diff - (arms[claim.minus[0]] - arms[claim.minus[1]])
    return diff.dropna()


def _seeds_needed(claim: Claim, diff: Interval, sd: float) -> float:
    """Pairs that detect the claim's target with 80% power; for a bounded claim (matches, not higher), pairs that
    tell the observed effect from the margin on whichever side it lies, NaN when it sits on the margin."""
    if diff.n < 2:
        return math.inf  # no spread to plan from: run more seeds
    if not sd > 0:
        return diff.n
    if claim.direction in ("matches", "not_higher"):
        room = claim.margin - (abs(diff.mean) if claim.direction == "matches" else diff.mean)
        return seeds_for(abs(room), sd) if room != 0 else math.nan
    return seeds_for(claim.target, sd)


def _plan_note(claim: Claim, diffs: pd.Series, pilot: int, cap: int) -> str:
    """Where the declared seed plan stands: pilot pairs still missing, or Stein's second stage not yet run."""
    if len(diffs) < pilot:
        return f"pilot: {len(diffs)} of {pilot} pairs so far"
    pilot_sd = float(diffs.iloc[:pilot].std(ddof=1)) if pilot >= 2 else math.nan
    planned = min(cap, stein_seeds(pilot_sd, pilot, claim.half_width)) if pilot_sd > 0 else 0
    if len(diffs) == pilot < planned:  # nothing of the second stage has run yet
        return f"pilot done; Stein's second stage asks for {planned} pairs in all (cap {cap}; `--seeds auto` runs them)"
    if len(diffs) < planned:
        return f"Stein's second stage: {len(diffs)} of {planned} pairs so far (cap {cap}; `--seeds auto` runs the rest)"
    return ""


def _verdict(claim: Claim, where: Where, diffs: pd.Series, note: str, pilot: int, word: str | None = None,
             cap: int = 0) -> Verdict:
    """Seeds beyond the pilot are a second stage: Stein's interval, the pilot's spread over all the pairs.
    `cap`: the declared second stage's cap, for a note on pairs still to run (0: no seed plan, as for a sweep)."""
    diffs = diffs.sort_index()
    if cap and (plan := _plan_note(claim, diffs, pilot, cap)):
        note = "; ".join(filter(None, [note, plan]))
    second_stage = pilot >= 2 and len(diffs) > pilot
    effect = stein_interval(diffs.to_numpy(), pilot) if second_stage else mean_ci(diffs)
    sd = float(diffs.std(ddof=1)) if len(diffs) >= 2 else math.nan
    word = word or (NOT_SCORED if note.startswith("not scored") else decide(claim, effect))
    return Verdict(claim, where, effect, word, note, sd=sd,
                   detectable=min_detectable_effect(sd, effect.n) if effect.n >= 2 else math.nan,
                   seeds_needed=_seeds_needed(claim, effect, sd), ci_kind="Stein" if second_stage else "t",
                   per_seed=tuple((int(seed), float(value)) for seed, value in diffs.items()))


def _seen(claim: Claim, group: pd.DataFrame, registration: Registration | None) -> set:
    """Seeds of a group on which every run of the claim's variants was trained before the claim took its form:
    its effect on them could be seen when it was written."""
    if registration is None or registration is UNCOMMITTED:
        return set()
    mine = group[group["variant"].isin(claim.variants)]
    commits = mine["git_commit"] if "git_commit" in mine else pd.Series("unknown", index=mine.index)
    covered = [registration.covers(commit, _utc(stamp)) for commit, stamp in zip(commits, mine["finished_at"])]
    per_seed = mine.assign(covered=covered).groupby("seed").agg(arms=("variant", "nunique"), any_covered=("covered", "any"))
    return set(per_seed.index[(per_seed["arms"] == len(set(claim.variants))) & ~per_seed["any_covered"]])


def _utc(stamp: str) -> datetime:
    when = pd.Timestamp(stamp)
    return (when.tz_localize("UTC") if when.tzinfo is None else when).to_pydatetime()


def _split(claim: Claim, group: pd.DataFrame, registration: Registration | None):
    """(runs, exploratory?) parts of a group: the seeds that confirm the claim, and apart those seen before it."""
    seen = _seen(claim, group, registration)
    yield group[~group["seed"].isin(seen)], False
    if seen:
        yield group[group["seed"].isin(seen)], True


def _pilot_hint(ablation: Ablation) -> str:
    """What settles a row with no confirmatory pairs: the declared pilot's seeds and the command that runs them."""
    first = ablation.first_seed
    return f"`ablate run {ablation.name}` trains its pilot, seeds {first}–{first + ablation.seeds - 1}"


def _per_run(claim: Claim, runs: pd.DataFrame, pilot: int, registration: Registration | None, hint: str,
             cap: int = 0) -> list[Verdict]:
    found = []
    for key, group in runs.groupby(GROUP, sort=True):
        if not claim.applies_at(key[-1]) or not set(claim.variants) <= set(group["variant"]):
            continue
        where = Where(**dict(zip(GROUP, key)), lrs=f"{key[-1]:g}")
        for part, exploratory in _split(claim, group, registration):
            if set(claim.variants) <= set(part["variant"]):
                verdict = _group_verdict(claim, part, where, pilot, 0 if exploratory else cap)
            else:
                verdict = Verdict(claim, where, NO_EFFECT, NOT_RUN,
                                  f"no seed of these variants ran after the claim took this form; {hint}")
            found.append(dataclasses.replace(verdict, exploratory=exploratory))
    return found


def _paired(claim: Claim, group: pd.DataFrame) -> tuple[pd.Series, list[str], str | None]:
    """Per seed, the claim's paired difference as its verdict counts it (a baseline that did not train pairs with
    nothing; a divergence counts where it is evidence); with notes on what was left out, and a forced word."""
    metric = METRICS[claim.metric]
    arm_runs = {v: group[group["variant"] == v].set_index("seed") for v in claim.variants}
    baseline_trained = arm_runs[claim.baseline]["outcome"] == "trained"
    arms = {v: r[metric.name].where(r["outcome"] != "diverged") for v, r in arm_runs.items()}
    notes, word = [], None
    if claim.minus is None and not baseline_trained.any():
        notes.append(f"not scored: the baseline {claim.baseline} never trained (diverged or stuck at the unigram level)")
    elif claim.minus is None:  # pairs whose baseline did not train say nothing about the treatment
        arms[claim.baseline] = arms[claim.baseline].where(baseline_trained)
    judged = metric.kind in ("loss", "stability") and metric.better == "lower"  # where diverging is the worst outcome
    if judged and claim.direction == "higher":  # a divergence is evidence for "the treatment is worse", not a gap
        treated = arm_runs[claim.treatment]
        worst = treated["model"].map(lambda m: math.log(m["vocab_size"])) if metric.kind == "loss" else treated[metric.name]
        arms[claim.treatment] = arms[claim.treatment].where(treated["outcome"] != "diverged", worst)
    diffs = _differences(claim, arms)
    against = judged and claim.direction != "higher"  # divergence speaks against "lower or equal"
    if against and not notes:  # a seed on which only the treatment diverged counts against the claim
        diverged = {v: set(r.index[r["outcome"] == "diverged"]) for v, r in arm_runs.items()}
        if diverged[claim.treatment] & set(arm_runs[claim.baseline].index) - diverged[claim.baseline]:
            notes.append(f"{claim.treatment} diverged where {claim.baseline} did not")
            word = CONTRADICTED
    if claim.minus and len(diffs) < len(arm_runs[claim.treatment]):
        notes.append(f"{len(arm_runs[claim.treatment]) - len(diffs)} seed(s) without all four arms trained or "
                     "finished left out")
    return diffs, notes, word


def _group_verdict(claim: Claim, group: pd.DataFrame, where: Where, pilot: int, cap: int = 0) -> Verdict:
    diffs, notes, word = _paired(claim, group)
    notes.append(_size_note(claim, group))
    if diffs.empty and not word and not any(n.startswith("not scored") for n in notes):
        return Verdict(claim, where, NO_EFFECT, NOT_RUN, "no seed has a counted run of every arm")
    return _verdict(claim, where, diffs, "; ".join(filter(None, notes)), pilot, word, cap)


def pilot_pairs(counted: pd.DataFrame, ablation: Ablation) -> list[tuple[Claim, float, pd.Series]]:
    """(claim, LR, paired differences) for every claim judged per LR on training runs (not a speed claim, not an
    LR sensitivity), paired as its verdict pairs them: what Stein's second stage is planned from. `counted`:
    the runs that count (`analysis.current`)."""
    found = []
    for claim in ablation.claims:
        if METRICS[claim.metric].device_dependent or METRICS[claim.metric].across_runs:
            continue
        for key, group in counted.groupby(GROUP, sort=True):
            if claim.applies_at(key[-1]) and set(claim.variants) <= set(group["variant"]):
                found.append((claim, key[-1], _paired(claim, group)[0]))
    return found


def _sweep(claim: Claim, runs: pd.DataFrame, ablation: Ablation, registration: Registration | None) -> list[Verdict]:
    found = []
    for _, group in runs.groupby(SWEEP_GROUP, sort=True):
        for part, exploratory in _split(claim, group, registration):
            found += [dataclasses.replace(v, exploratory=exploratory) for v in _sweep_group(claim, part, ablation)]
    return found


def _sweep_group(claim: Claim, runs: pd.DataFrame, ablation: Ablation) -> list[Verdict]:
    table, found = lr_sensitivity(runs, ablation, claim.lrs or ablation.lrs), []  # the declared sweep, not stray LRs
    if table.empty:
        return found
    for key, part in table.groupby(SWEEP_GROUP, sort=True):
        arms = part.set_index("variant")
        if not set(claim.variants) <= set(arms.index):
            continue
        diffs = _differences(claim, {v: arms.loc[v, "per_seed"] for v in claim.variants})
        never = [v for v in claim.variants if not arms.loc[v, "trained_somewhere"]]
        note = f"not scored: {', '.join(never)} never trained at any LR of the sweep" if never else ""
        best = ", ".join(f"{v} {arms.loc[v, 'best_lr_loss']:.3f}" for v in claim.variants)
        where = Where(**dict(zip(SWEEP_GROUP, key)), lrs=", ".join(f"{lr:g}" for lr in part["lrs"].iloc[0]))
        verdict = _verdict(claim, where, diffs, note, ablation.seeds)
        found.append(dataclasses.replace(verdict, note="; ".join(filter(None, [note, f"best-LR loss: {best}"]))))
    return found


def _size_note(claim: Claim, group: pd.DataFrame) -> str:
    """The parameter difference of treatment and baseline, within one comparison group."""
    if "params" not in group:
        return ""
    params = group.groupby("variant")["params"].first()
    if {claim.treatment, claim.baseline} <= set(params.index):
        change = params[claim.treatment] / params[claim.baseline] - 1
        return f"{claim.treatment} has {change:+.1%} parameters" if abs(change) >= 0.0005 else ""
    return ""


def verdicts(runs: pd.DataFrame, ablation: Ablation, speed: pd.DataFrame | None = None) -> list[Verdict]:
    """One Verdict per claim and comparison group (per LR; per sweep for an LR sensitivity): the paired effect
    and its 95% CI, the minimum detectable effect at 80% power, the seeds the target needs, the word and a
    note. Speed claims are judged on the paired speed benchmark (`speed`), never on training runs."""
    counted = current(runs, ablation) if not runs.empty else runs
    registered, found = registrations(ablation.name), []
    for claim in ablation.claims:
        metric, registration = METRICS[claim.metric], lookup(registered, claim.says)
        if metric.device_dependent:
            found += judge_speed(claim, speed)
            continue
        if runs.empty:
            continue
        mine = [] if counted.empty else _sweep(claim, counted, ablation, registration) if metric.across_runs else \
            _per_run(claim, counted, ablation.seeds, registration, _pilot_hint(ablation), ablation.max_seeds)
        mine = mine or [Verdict(claim, Where(), NO_EFFECT, NOT_RUN,
                                f"its variants have no finished runs to pair; {_pilot_hint(ablation)}")]
        label = _label(registration, any(v.exploratory for v in mine))
        found += [dataclasses.replace(v, registered=label) for v in mine]
    return found


def _label(registration: Registration | None, seen: bool) -> str:
    if registration is None:
        return "unknown"  # no catalogue history to read (no git, or an ablation declared outside the catalogue)
    if registration is UNCOMMITTED:
        return "uncommitted"
    return f"post hoc {registration.commit[:7]}" if seen else "pre-registered"


def frame(found: list[Verdict]) -> pd.DataFrame:
    """Verdicts as the rows of claims.csv."""
    return pd.DataFrame([v.row() for v in found], columns=list(COLUMNS))


def judge(runs: pd.DataFrame, ablation: Ablation, speed: pd.DataFrame | None = None) -> pd.DataFrame:
    """`verdicts` as a frame, one row per verdict: for notebooks and pandas."""
    return frame(verdicts(runs, ablation, speed))
