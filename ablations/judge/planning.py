"""Seeds planned for the claims: what pilot runs can detect, what each claim's target needs (80% power),
and Stein's (1945) second stage for `--seeds auto`. Reads runs; trains nothing."""

from __future__ import annotations

import math

import pandas as pd

from ablations.declare.spec import Ablation
from ablations.judge.analysis import judge
from ablations.judge.stats import stein_seeds


def plan_table(runs: pd.DataFrame, ablation: Ablation) -> pd.DataFrame:
    """Per claim and comparison group: pairs so far, their spread, the effect they detect at 80% power, the
    seeds the claim's target needs, and Stein's total for the claim's CI half-width."""
    table = judge(runs, ablation)
    if table.empty:
        return table
    table = table[table["pairs"] >= 2].copy()
    claims = {claim.says: claim for claim in ablation.claims}
    table["stein_seeds"] = [stein_seeds(row.sd, int(row.pairs), claims[row.says].half_width) if row.sd > 0 else int(row.pairs)
                            for row in table.itertuples()]
    return table


def second_stage(runs: pd.DataFrame, ablation: Ablation, pilot: int, most: int) -> dict[tuple[str, float], int]:
    """(variant, LR) → total seeds after Stein's second stage, for the variants of every claim whose pilot has
    finished: the largest number any of its claims needs, capped at `most`; never below the pilot. Planned from
    the pilot's seeds alone, so running it again after the second stage plans the same totals (Stein's
    procedure has two stages, not more). `runs` must hold one preset, corpus and design."""
    table = plan_table(runs[runs["seed"] < pilot], ablation) if not runs.empty else runs
    wanted: dict[tuple[str, float], int] = {}
    claims = {claim.says: claim for claim in ablation.claims}
    for row in table.itertuples() if not table.empty else ():
        if row.unit == "relative" or not isinstance(row.lr, float) or math.isnan(row.lr):
            continue  # speed claims plan rounds, not seeds; LR-sensitivity claims are not planned (their pilot stands)
        for variant in claims[row.says].variants:
            key = (variant, row.lr)
            wanted[key] = max(wanted.get(key, pilot), min(most, int(row.stein_seeds)))
    return wanted
