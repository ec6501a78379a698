"""A Verdict in words: its effect with the CI, where it was measured, what would settle it, and the claims
table of a report."""

from __future__ import annotations

import math

from ablations.declare.metrics import METRICS
from ablations.judge.verdict import INCONCLUSIVE, NOT_SCORED, Verdict
from ablations.reporting.markdown import count_cell, markdown_table


def signed(value: float, digits: int) -> str:
    return "–" if math.isnan(value) else f"{value:+.{digits}f}"


def ci(low: float, high: float, digits: int) -> str:
    if low == high:
        return "exact"  # the same difference on every seed
    return "–" if math.isnan(low) else f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def effect(v: Verdict) -> str:
    """The claim's effect with its CI, in the metric's units (a speed claim's: its ratio − 1, in percent)."""
    mean, low, high = v.effect.mean, v.effect.low, v.effect.high
    if v.is_speed:
        return "–" if math.isnan(mean) else f"{mean:+.1%} [{low:+.1%}, {high:+.1%}]"
    digits = METRICS[v.claim.metric].digits
    return f"{signed(mean, digits)} {ci(low, high, digits)}".replace(" –", "")


def settles(v: Verdict) -> str:
    """What would settle an inconclusive claim."""
    if v.seeds_needed == math.inf:
        return "fewer than two pairs: run more seeds"
    if math.isnan(v.seeds_needed):
        return "its effect lies at the margin; more pairs would not make it hold"
    needed = "more than 1,000" if v.seeds_needed >= 1000 else str(int(v.seeds_needed))
    if v.claim.direction in ("matches", "not_higher"):
        return f"{needed} {v.pair_unit} would tell this effect from the margin with 80% power"
    target = f"{v.claim.target:.0%}" if v.is_speed else f"{v.claim.target:g}"
    if v.pairs >= v.seeds_needed:
        return f"these {v.pairs} {v.pair_unit} detect {target} with 80% power: an effect that large is unlikely"
    return f"{needed} {v.pair_unit} would detect {target} with 80% power"


def verdict_cell(v: Verdict) -> str:
    """The word, and for an inconclusive one what would settle it; otherwise its note."""
    text = f"**{v.word}**"
    if v.word == INCONCLUSIVE:
        return f"{text}: {settles(v)}"
    return text + (f" ({v.note.removeprefix(NOT_SCORED + ': ')})" if v.note else "")


def where(v: Verdict) -> str:
    w = v.where
    if v.is_speed:
        return f"{w.preset}, speed benchmark on {w.device}{', compiled' if w.compiled else ''}" if w.preset else "–"
    return f"{w.preset}, lr {w.lrs}, {v.pairs} pairs ({v.ci_kind})" if w.preset else "–"


def claims_table(found: list[Verdict]) -> str:
    """One row per claim and comparison group: the effect, what the seeds could detect, what the target needs."""
    rows = []
    for v in found:
        claim, metric = v.claim, METRICS[v.claim.metric]
        fmt = (lambda x: f"{x:.1%}") if v.is_speed else metric.format
        bound = f" (margin ±{fmt(claim.margin)})" if claim.direction == "matches" else (
            f" (margin {fmt(claim.margin)})" if claim.direction == "not_higher" else "")
        minus = f" − ({' − '.join(claim.minus)})" if claim.minus else ""
        detectable = "–" if math.isnan(v.detectable) else fmt(v.detectable)
        rows.append([claim.says, f"{claim.treatment} − {claim.baseline}{minus}",
                     f"{metric.heading}, {claim.direction}{bound}", where(v), effect(v), detectable,
                     f"{fmt(claim.target)} → {count_cell(v.seeds_needed)}", claim.paper, f"**{v.word}**", v.registered,
                     v.note])
    header = ["claim", "contrast", "metric, direction", "where (pairs, CI)", "effect [95% CI]", "detectable (80% power)",
              "target → seeds needed", "paper", "verdict", "registered", "note"]
    return markdown_table(header, rows)
