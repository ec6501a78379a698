"""A claim along the scale ladder: its verdict at each rung (each preset of `LADDER` with runs) and the trend of
the effect against log10 non-embedding parameters, judged by a rule fixed before the ladder's runs:

- changes sign: one rung's 95% CI lies wholly above zero and another's wholly below, or the slope's CI excludes
  zero and the fitted line crosses zero between the smallest and the largest rung (never extrapolated);
- else, when the slope's 95% CI excludes zero: grows with size when the fitted effect is larger in size at the
  largest rung than at the smallest, else shrinks toward zero;
- else holds at every size when every rung's own verdict is the claim's success word (reproduced, equivalent):
  the slope's CI, always shown, says how flat;
- else inconclusive, saying what would settle it. Fewer than three rungs with two pairs each: not run (a corpus
  with runs at one rung only has no row).

The slope is a least-squares fit of every (rung, seed) paired difference on log10 of the baseline's non-embedding
parameters with a fixed effect per seed (a seed reads the same batches at every rung), CI from Student t with
N − seeds − 1 degrees of freedom. No correction for the several claims of an ablation; absolute effects (nats per
byte), though the baseline's loss falls with size. Reads verdicts and runs; trains nothing."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from ablations.declare.metrics import METRICS
from ablations.declare.presets import LADDER
from ablations.declare.spec import Ablation, Claim
from ablations.judge.stats import CONFIDENCE, Interval
from ablations.judge.verdict import (
    EQUIVALENT,
    FLIPS,
    GROWS,
    HOLDS,
    INCONCLUSIVE,
    NOT_RUN,
    REPRODUCED,
    SHRINKS,
    Verdict,
)
from ablations.runs.identity import in_current_fields
from models import ModelConfig, non_embedding_params

MIN_RUNGS = 3


@dataclass(frozen=True)
class Rung:
    preset: str
    params: int  # the baseline's non-embedding parameters at this rung
    verdict: Verdict


@dataclass(frozen=True)
class Trend:
    claim: Claim
    corpus_label: str
    lr: float  # NaN: each rung at its own preset's LR
    rungs: tuple[Rung, ...]
    slope: Interval  # effect per decade (×10) of parameters, with its 95% CI
    intercept: float  # the fitted effect at 1 parameter (log10 = 0)
    word: str
    note: str

    def crossing(self) -> float:
        """Parameters at which the fitted line crosses zero (NaN for a flat fit)."""
        return 10 ** (-self.intercept / self.slope.mean) if self.slope.mean else math.nan


def _params(counted: pd.DataFrame, claim: Claim) -> dict[str, int]:
    baseline = counted[counted["variant"] == claim.baseline].drop_duplicates("preset")
    stored = {row.preset: in_current_fields(row.model) for row in baseline.itertuples()}  # JSON: lists for tuples
    return {preset: non_embedding_params(ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in model.items()}))
            for preset, model in stored.items()}


def _fit(rungs: list[Rung]) -> tuple[Interval, float]:
    """Slope per decade (95% CI) and intercept of the paired differences on log10 parameters, with a fixed effect
    per seed: seed s reads the same batches at every rung, so its differences share that draw. Seeds seen at one
    rung only carry no slope information and leave the fit."""
    points = [(seed, math.log10(r.params), value) for r in rungs for seed, value in r.verdict.per_seed]
    seeds = {s for s, _, _ in points}
    seeds = {s for s in seeds if sum(p[0] == s for p in points) >= 2}
    kept = [p for p in points if p[0] in seeds]
    means = {s: (sum(x for t, x, _ in kept if t == s) / n, sum(y for t, _, y in kept if t == s) / n)
             for s in seeds for n in [sum(t == s for t, _, _ in kept)]}
    dx = [x - means[s][0] for s, x, _ in kept]
    dy = [y - means[s][1] for s, _, y in kept]
    sxx = sum(d * d for d in dx)
    dof = len(kept) - len(seeds) - 1
    if sxx == 0 or dof < 1:
        return Interval(math.nan, math.nan, math.nan, len(kept)), math.nan
    slope = sum(a * b for a, b in zip(dx, dy)) / sxx
    residual = sum((b - slope * a) ** 2 for a, b in zip(dx, dy))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, dof) * math.sqrt(residual / dof / sxx)
    x_bar, y_bar = (sum(p[i] for p in kept) / len(kept) for i in (1, 2))
    return Interval(slope, slope - half, slope + half, len(kept)), y_bar - slope * x_bar


def _judge(claim: Claim, rungs: list[Rung], slope: Interval, intercept: float) -> tuple[str, str]:
    fit = f"slope {slope.mean:+.4f} [{slope.low:+.4f}, {slope.high:+.4f}] per decade of parameters"
    above = [r.preset for r in rungs if r.verdict.effect.low > 0]
    below = [r.preset for r in rungs if r.verdict.effect.high < 0]
    if above and below:
        return FLIPS, f"{fit}; above zero at {', '.join(above)}, below at {', '.join(below)}"
    if slope.low > 0 or slope.high < 0:
        small, large = (intercept + slope.mean * math.log10(rungs[i].params) for i in (0, -1))
        if small * large < 0:  # the fitted line crosses zero between the smallest and the largest rung
            crossing = 10 ** (-intercept / slope.mean)
            return FLIPS, f"{fit}; the fit crosses zero near {crossing / 1e6:.2g}M parameters"
        return (GROWS if abs(large) > abs(small) else SHRINKS), f"{fit}; fitted {small:+.4f} → {large:+.4f}"
    if all(r.verdict.word in (REPRODUCED, EQUIVALENT) for r in rungs):
        return HOLDS, f"{fit} (flat within it: not shown size-independent beyond that)"
    unsettled = [r.preset for r in rungs if r.verdict.word not in (REPRODUCED, EQUIVALENT)]
    return INCONCLUSIVE, (f"{fit}; not {'/'.join(sorted({REPRODUCED, EQUIVALENT}))} at {', '.join(unsettled)}: more "
                          "seeds at the end rungs, or a larger rung, would settle it")


def trends(found: list[Verdict], counted: pd.DataFrame, ablation: Ablation) -> list[Trend]:
    """One Trend per claim judged on training runs (per corpus, and per LR where the ablation sweeps LRs) whose
    runs reach at least one rung of the ladder; the confirmatory verdicts only."""
    out = []
    for claim in ablation.claims:
        metric = METRICS[claim.metric]
        if metric.device_dependent or metric.across_runs or counted.empty:
            continue
        mine = [v for v in found if v.claim == claim and not v.exploratory and v.where.preset in LADDER and v.pairs]
        params = _params(counted, claim)
        groups: dict[tuple[str, float], list[Rung]] = {}
        for v in mine:
            key = (v.where.corpus_label, v.where.lr if ablation.lrs else math.nan)
            groups.setdefault(key, []).append(Rung(v.where.preset, params[v.where.preset], v))
        for (corpus, lr), rungs in sorted(groups.items(), key=lambda item: item[0][0]):
            if len({r.preset for r in rungs}) < 2:
                continue  # one preset of the ladder (tiny, say) run on its own is no ladder
            rungs = sorted(rungs, key=lambda r: LADDER.index(r.preset))
            usable = [r for r in rungs if r.verdict.pairs >= 2 and not math.isnan(r.verdict.sd)]
            if len({r.preset for r in usable}) < MIN_RUNGS:
                missing = [p for p in LADDER if p not in {r.preset for r in usable}]
                out.append(Trend(claim, corpus, lr, tuple(rungs), Interval(math.nan, math.nan, math.nan, 0), math.nan,
                                 NOT_RUN, f"{len(usable)} of {len(LADDER)} rungs have two or more pairs; "
                                 f"`ablate ladder {ablation.name}` runs the rest ({', '.join(missing)})"))
                continue
            slope, intercept = _fit(usable)
            word, note = _judge(claim, usable, slope, intercept) if not math.isnan(slope.mean) else (
                NOT_RUN, "no seed ran at two rungs or more: nothing to fit a slope within")
            out.append(Trend(claim, corpus, lr, tuple(rungs), slope, intercept, word, note))
    return out
