"""The verdict on one claim in one comparison group: the type every judge returns and every reader (report,
planning, notebook) consumes, with the words it may say and the rule that picks one."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ablations.declare.metrics import METRICS
from ablations.declare.spec import Claim
from ablations.judge.stats import Interval

REPRODUCED, EQUIVALENT, CONTRADICTED, INCONCLUSIVE = "reproduced", "equivalent", "contradicted", "inconclusive"
NOT_SCORED = "not scored"  # runs exist but say nothing: the baseline never trained
NOT_RUN = "not run"  # no finished runs of the claim's variants
NOT_MEASURED = "not measured"  # a speed claim with no paired benchmark
WORDS = (REPRODUCED, EQUIVALENT, CONTRADICTED, INCONCLUSIVE, NOT_SCORED, NOT_RUN, NOT_MEASURED)
NO_EFFECT = Interval(math.nan, math.nan, math.nan, 0)
# A claim's trend along the scale ladder (judge/ladder.py), or INCONCLUSIVE / NOT_RUN.
HOLDS, GROWS, SHRINKS, FLIPS = "holds at every size", "grows with size", "shrinks toward zero", "changes sign"

# The columns of a verdict's row in claims.csv and the judge's frame, in this order.
COLUMNS = ("preset", "corpus_label", "design", "lr", "lrs", "says", "metric", "unit", "direction", "margin", "target",
           "treatment", "baseline", "minus", "paper", "diff_mean", "diff_low", "diff_high", "pairs", "sd",
           "detectable", "seeds_needed", "verdict", "note", "device", "compiled", "ci_kind", "registered", "exploratory")


def decide(claim: Claim, effect: Interval) -> str:
    """reproduced / equivalent / contradicted / inconclusive for one claim.

    lower, higher: reproduced when the CI excludes zero on the claimed side, contradicted when it
    excludes zero on the other side. not_higher (non-inferiority): reproduced when the whole CI lies
    below +margin, contradicted when it lies entirely above it. matches (equivalence, TOST-style):
    equivalent when the whole CI lies inside ±margin, contradicted when it lies entirely outside it.
    """
    low, high = effect.low, effect.high
    if math.isnan(low):
        return INCONCLUSIVE
    if claim.direction == "not_higher":
        return REPRODUCED if high < claim.margin else CONTRADICTED if low > claim.margin else INCONCLUSIVE
    if claim.direction == "matches":
        margin = claim.margin
        inside, outside = -margin < low and high < margin, low > margin or high < -margin
        return EQUIVALENT if inside else CONTRADICTED if outside else INCONCLUSIVE
    sign = 1 if claim.direction == "higher" else -1
    if sign * low > 0 and sign * high > 0:
        return REPRODUCED
    if sign * low < 0 and sign * high < 0:
        return CONTRADICTED
    return INCONCLUSIVE


@dataclass(frozen=True)
class Where:
    """The comparison group a verdict speaks for: training runs (preset, corpus, design, one LR or a sweep's
    LRs) or a paired speed benchmark (preset, device, compiled)."""

    preset: str = ""
    corpus_label: str = ""
    design: str = ""
    lr: float = math.nan  # NaN for a sweep or a benchmark
    lrs: str = ""  # the LR, or the sweep's LRs, as the table prints them
    device: str = ""
    compiled: bool = False


@dataclass(frozen=True)
class Verdict:
    """One claim judged in one group: the paired effect (treatment − baseline; a speed ratio − 1 for speed
    claims) with its CI, what the pairs could detect, what the claim's target needs, the word and a note."""

    claim: Claim
    where: Where
    effect: Interval
    word: str
    note: str = ""
    sd: float = math.nan
    detectable: float = math.nan
    seeds_needed: float = math.nan
    ci_kind: str = "t"  # "t": paired Student t; "Stein": the two-stage interval, after a second stage
    registered: str = ""  # "pre-registered", "post hoc COMMIT", "uncommitted" or "unknown" (judge/registration.py)
    exploratory: bool = False  # judged on seeds that had finished before the claim took its form: shown apart
    per_seed: tuple[tuple[int, float], ...] = ()  # (seed, paired difference) it was judged on; empty for speed

    def __post_init__(self) -> None:
        if self.word not in WORDS:
            raise ValueError(f"verdict {self.word!r} is not one of {', '.join(WORDS)}")

    @property
    def is_speed(self) -> bool:
        """Judged on a paired speed benchmark (rounds, relative effects), not on training runs (seeds)."""
        return METRICS[self.claim.metric].device_dependent

    @property
    def pair_unit(self) -> str:
        return "rounds" if self.is_speed else "pairs"

    @property
    def pairs(self) -> int:
        return self.effect.n

    def row(self) -> dict:
        """The flat row of claims.csv."""
        claim, where = self.claim, self.where
        return dict(
            preset=where.preset, corpus_label=where.corpus_label, design=where.design, lr=where.lr, lrs=where.lrs,
            says=claim.says, metric=claim.metric, unit="relative" if self.is_speed else METRICS[claim.metric].unit,
            direction=claim.direction, margin=claim.margin, target=claim.target, treatment=claim.treatment,
            baseline=claim.baseline, minus=" − ".join(claim.minus) if claim.minus else "", paper=claim.paper,
            diff_mean=self.effect.mean, diff_low=self.effect.low, diff_high=self.effect.high, pairs=self.effect.n,
            sd=self.sd, detectable=self.detectable, seeds_needed=self.seeds_needed, verdict=self.word, note=self.note,
            device=where.device, compiled=where.compiled, ci_kind=self.ci_kind, registered=self.registered,
            exploratory=self.exploratory)
