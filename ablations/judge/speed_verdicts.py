"""Speed verdicts: the paired benchmarks `ablate speed` wrote, read back and judged against a speed claim.
Imports no torch."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ablations.declare.spec import Claim
from ablations.judge.stats import Interval, mean_ci, min_detectable_effect, seeds_for
from ablations.judge.verdict import NO_EFFECT, NOT_MEASURED, NOT_SCORED, Verdict, Where, decide

CSV_PREFIX = "speed-"
# Eager CPU kernels are not every variant's fastest path (torch's CPU RMSNorm backward is composite): such a row
# measures kernel coverage, not the architecture, so it is shown and not judged.
KERNEL_BOUND = ("not scored: eager CPU kernels, not each variant's fastest path; judged compiled (`ablate speed NAME "
                "--compile`) or on a GPU")


def paired_ratio(frame: pd.DataFrame, treatment: str, baseline: str):
    """Per round log(t_treatment / t_baseline): its mean's CI, as an Interval on the log scale, and the SD."""
    times = frame.pivot_table(index="round", columns="variant", values="step_time_s")
    logs = np.log(times[treatment] / times[baseline]).dropna()
    return mean_ci(logs), float(logs.std(ddof=1)) if len(logs) > 1 else math.nan


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def speed_path(out_dir: Path, preset: str, device: str, compiled: bool) -> Path:
    return out_dir / f"{CSV_PREFIX}{preset}-{slug(device)}{'-compiled' if compiled else ''}.csv"


def load_speed(out_dir: Path) -> pd.DataFrame:
    """Every speed benchmark written beside a report, with its preset, device and whether compiled."""
    frames = [pd.read_csv(path) for path in sorted(Path(out_dir).glob(f"{CSV_PREFIX}*.csv"))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def judge_speed(claim: Claim, speed: pd.DataFrame | None) -> list[Verdict]:
    """A speed claim per measured (preset, device, compile): the relative change of step time (or of tokens/s,
    its inverse), its CI from the paired log-ratios, and the verdict against the claim's relative target."""
    groups = [] if speed is None or speed.empty else [
        (key, part) for key, part in speed.groupby(["preset", "device", "compiled"], sort=True)
        if {claim.treatment, claim.baseline} <= set(part["variant"])]
    if not groups:
        how = f"run `ablate speed` for {claim.treatment} and {claim.baseline}"
        return [Verdict(claim, Where(), NO_EFFECT, NOT_MEASURED, how)]
    found = []
    for (preset, device, compiled), part in groups:
        log_ratio, sd = paired_ratio(part, claim.treatment, claim.baseline)
        mean, low, high = log_ratio.mean, log_ratio.low, log_ratio.high
        if claim.metric == "tokens_per_s":  # the inverse of step time
            mean, low, high = -mean, -high, -low
        effect = Interval(math.expm1(mean), math.expm1(low), math.expm1(high), log_ratio.n)
        threads = part["threads"].iloc[0]
        where = Where(preset=preset, corpus_label="random tokens", device=device, compiled=bool(compiled))
        measured = (f"paired speed benchmark: {device} ({threads} torch threads), "
                    f"{'compiled' if compiled else 'eager'}, {log_ratio.n} rounds")
        kernel_bound = str(device).startswith("cpu") and not compiled
        found.append(Verdict(claim, where, effect, NOT_SCORED if kernel_bound else decide(claim, effect),
                             f"{KERNEL_BOUND}; {measured}" if kernel_bound else measured,
                             detectable=math.expm1(min_detectable_effect(sd, log_ratio.n)) if sd > 0 else math.nan,
                             seeds_needed=seeds_for(math.log1p(claim.target), sd) if sd > 0 else math.inf))
    return found
