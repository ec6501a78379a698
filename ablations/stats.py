"""Confidence intervals over seeds and the verdict rule. scipy does the statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ablations.spec import Expectation

CONFIDENCE = 0.95


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


def verdict(expectation: Expectation, difference: Interval) -> str:
    """reproduced / contradicted / inconclusive for one claimed direction.

    lower, higher: reproduced when the CI excludes zero on the claimed side, contradicted when it
    excludes zero on the other side. not_higher (a non-inferiority claim): reproduced when the whole
    CI lies below +margin, contradicted when it lies entirely above it.
    """
    low, high = difference.low, difference.high
    if math.isnan(low):
        return "inconclusive"
    if expectation.direction == "not_higher":
        threshold = expectation.margin
        return "reproduced" if high < threshold else "contradicted" if low > threshold else "inconclusive"
    sign = 1 if expectation.direction == "higher" else -1
    if sign * low > 0 and sign * high > 0:
        return "reproduced"
    if sign * low < 0 and sign * high < 0:
        return "contradicted"
    return "inconclusive"


def overall_verdict(verdicts: list[str]) -> str:
    """A claim with several parts holds only if every part does."""
    if "contradicted" in verdicts:
        return "contradicted"
    if verdicts and all(v == "reproduced" for v in verdicts):
        return "reproduced"
    return "inconclusive"
