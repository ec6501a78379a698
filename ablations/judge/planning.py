"""Seeds planned for the claims: what pilot runs can detect, what each claim's target needs (80% power),
and Stein's (1945) second stage for `--seeds auto`. Reads runs; trains nothing."""

from __future__ import annotations

import pandas as pd

from ablations.declare.spec import Ablation
from ablations.judge.analysis import current
from ablations.judge.claims import frame, pilot_pairs, verdicts
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
    procedure has two stages, not more). Speed claims plan rounds, not seeds, and an LR sensitivity is not
    planned (its pilot stands). `runs` must hold one preset, corpus and design."""
    wanted: dict[tuple[str, float], int] = {}
    first = ablation.first_seed
    in_pilot = runs[runs["seed"].between(first, first + pilot - 1)] if not runs.empty else runs
    counted = current(in_pilot, ablation) if not in_pilot.empty else in_pilot
    for claim, lr, diffs in pilot_pairs(counted, ablation) if not counted.empty else ():
        if len(diffs) < 2:
            continue
        sd = float(diffs.std(ddof=1))
        total = stein_seeds(sd, len(diffs), claim.half_width) if sd > 0 else len(diffs)
        for variant in claim.variants:
            wanted[(variant, lr)] = max(wanted.get((variant, lr), pilot), min(most, int(total)))
    return wanted
