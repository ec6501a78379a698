"""Seeds planned for the claims: what pilot runs can detect, what each claim's target needs (80% power),
and Stein's (1945) second stage for `--seeds auto`. Reads runs; trains nothing."""

from __future__ import annotations

import math

import pandas as pd

from ablations.declare.spec import Ablation
from ablations.judge.claims import frame, verdicts
from ablations.judge.stats import stein_seeds
from ablations.judge.verdict import Verdict


def _planned(runs: pd.DataFrame, ablation: Ablation) -> list[tuple[Verdict, int]]:
    """Each verdict with two pairs or more, with Stein's total for its claim's CI half-width."""
    return [(v, stein_seeds(v.sd, v.pairs, v.claim.half_width) if v.sd > 0 else v.pairs)
            for v in verdicts(runs, ablation) if v.pairs >= 2]


def plan_table(runs: pd.DataFrame, ablation: Ablation) -> pd.DataFrame:
    """Per claim and comparison group: pairs so far, their spread, the effect they detect at 80% power, the
    seeds the claim's target needs, and Stein's total for the claim's CI half-width."""
    planned = _planned(runs, ablation)
    return frame([v for v, _ in planned]).assign(stein_seeds=[n for _, n in planned])


def second_stage(runs: pd.DataFrame, ablation: Ablation, pilot: int, most: int) -> dict[tuple[str, float], int]:
    """(variant, LR) → total seeds after Stein's second stage, for the variants of every claim whose pilot has
    finished: the largest number any of its claims needs, capped at `most`; never below the pilot. Planned from
    the pilot's seeds alone, so running it again after the second stage plans the same totals (Stein's
    procedure has two stages, not more). `runs` must hold one preset, corpus and design."""
    wanted: dict[tuple[str, float], int] = {}
    first = ablation.first_seed
    in_pilot = runs[runs["seed"].between(first, first + pilot - 1)] if not runs.empty else runs
    for verdict, total in _planned(in_pilot, ablation) if not in_pilot.empty else ():
        if verdict.is_speed or math.isnan(verdict.where.lr):
            continue  # speed claims plan rounds, not seeds; LR-sensitivity claims are not planned (their pilot stands)
        for variant in verdict.claim.variants:
            key = (variant, verdict.where.lr)
            wanted[key] = max(wanted.get(key, pilot), min(most, int(total)))
    return wanted
