"""Confidence intervals over seeds, power, sample size and Stein's two-stage plan. scipy does the statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

CONFIDENCE = 0.95
POWER = 0.8  # the conventional power a planned effect is detected with


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float  # NaN with fewer than two values: no interval can be estimated
    high: float
    n: int


def mean_ci(values) -> Interval:
    """Mean with a Student-t 95% interval over seeds."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return Interval(float(values.mean()) if len(values) else math.nan, math.nan, math.nan, len(values))
    if np.ptp(values) == 0:  # the same on every seed (a size from the config): known exactly, no t interval
        return Interval(float(values[0]), float(values[0]), float(values[0]), len(values))
    ci = stats.ttest_1samp(values, 0.0).confidence_interval(CONFIDENCE)
    return Interval(float(values.mean()), float(ci.low), float(ci.high), len(values))


def paired_difference_ci(treatment, baseline) -> Interval:
    """Mean of (treatment − baseline) over paired seeds, with a paired-t 95% interval."""
    treatment, baseline = np.asarray(treatment, dtype=float), np.asarray(baseline, dtype=float)
    if len(treatment) < 2 or np.ptp(treatment - baseline) == 0:
        return mean_ci(treatment - baseline)
    ci = stats.ttest_rel(treatment, baseline).confidence_interval(CONFIDENCE)
    return Interval(float((treatment - baseline).mean()), float(ci.low), float(ci.high), len(treatment))


def power(effect: float, sd: float, n: int, alpha: float = 1 - CONFIDENCE) -> float:
    """Probability that a two-sided paired t test on n seeds detects a true mean difference `effect` when the
    paired differences have standard deviation `sd` (noncentral t, exact)."""
    df, noncentrality = n - 1, abs(effect) / (sd / math.sqrt(n))
    critical = stats.t.ppf(1 - alpha / 2, df)
    wrong_side = stats.nct.cdf(-critical, df, noncentrality)  # scipy gives NaN where it underflows to 0
    return float(stats.nct.sf(critical, df, noncentrality) + np.nan_to_num(wrong_side))


def seeds_for(effect: float, sd: float, target: float = POWER, most: int = 10_000) -> int:
    """The fewest paired seeds (at least 2) that detect `effect` with probability `target`."""
    n = 2
    while power(effect, sd, n) < target and n < most:
        n += 1
    return n


def min_detectable_effect(sd: float, n: int, target: float = POWER) -> float:
    """The smallest true difference n paired seeds detect with probability `target` (NaN below two seeds)."""
    if n < 2 or not sd > 0:
        return math.nan if n < 2 else 0.0
    upper = sd
    while power(upper, sd, n) < target:  # bracket the root; with two seeds the MDE is several SDs
        upper *= 2
    return float(optimize.brentq(lambda effect: power(effect, sd, n) - target, 0.0, upper, xtol=1e-12 * upper))


def stein_seeds(pilot_sd: float, pilot_n: int, half_width: float) -> int:
    """Stein (1945): after a pilot of n0 seeds with spread s, n = max(n0, ⌊(t(1−α/2, n0−1)·s/d)²⌋ + 1) seeds give a
    CI of half-width at most d whatever the true variance, the CI's t taken at n0 − 1 degrees of freedom."""
    t = stats.t.ppf(1 - (1 - CONFIDENCE) / 2, pilot_n - 1)
    return max(pilot_n, math.floor((t * pilot_sd / half_width) ** 2) + 1)


def stein_interval(differences, pilot_n: int) -> Interval:
    """The two-stage CI: the mean of all n differences ± t(1−α/2, n0−1)·s0/√n, s0 from the first n0 (the pilot)."""
    values = np.asarray(differences, dtype=float)
    s0 = values[:pilot_n].std(ddof=1)
    half = stats.t.ppf(1 - (1 - CONFIDENCE) / 2, pilot_n - 1) * s0 / math.sqrt(len(values))
    return Interval(float(values.mean()), float(values.mean() - half), float(values.mean() + half), len(values))
