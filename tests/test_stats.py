import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import TTestPower

from ablations.declare.spec import Claim
from ablations.judge.stats import (
    mean_ci,
    min_detectable_effect,
    paired_difference_ci,
    power,
    seeds_for,
    stein_interval,
    stein_seeds,
)


def claim(direction="lower", margin=0.0):
    return Claim(says="s", treatment="t", baseline="b", metric="final_val_loss", direction=direction, margin=margin,
                 target=0.02, why="w")


def test_mean_ci_is_the_student_t_interval():
    # [1, 2, 3]: mean 2, s = 1, t(0.975, df=2) = 4.302653: half-width 4.302653 / sqrt(3) = 2.484138.
    ci = mean_ci([1.0, 2.0, 3.0])
    assert (ci.mean, ci.n) == (2.0, 3)
    assert ci.low == pytest.approx(2 - 2.484138, abs=1e-6) and ci.high == pytest.approx(2 + 2.484138, abs=1e-6)


def test_paired_ci_uses_differences_not_the_two_spreads():
    # Seeds move both arms together; the difference is a steady -0.1 (± 0.01).
    baseline = [2.0, 2.5, 3.0, 3.5]
    treatment = [1.89, 2.41, 2.90, 3.39]
    diff = paired_difference_ci(treatment, baseline)
    d = [t - b for t, b in zip(treatment, baseline)]
    assert diff.mean == pytest.approx(sum(d) / 4)
    half = 3.182446 * pd.Series(d).std() / 2  # t(0.975, df=3) · s / sqrt(4)
    assert (diff.low, diff.high) == pytest.approx((diff.mean - half, diff.mean + half), abs=1e-6)
    assert diff.high < 0  # detectable although the unpaired spread is 20× larger than the effect


def test_one_seed_gives_no_interval():
    assert math.isnan(mean_ci([1.0]).low)


def test_a_claim_refuses_an_unregistered_metric_and_a_missing_margin():
    with pytest.raises(ValueError, match="not a registered metric"):
        Claim(says="s", treatment="t", baseline="b", metric="loss", direction="lower", target=0.01, why="w")
    with pytest.raises(ValueError, match="needs a margin"):
        claim("matches")


@pytest.mark.parametrize("effect, sd, n", [(0.02, 0.009, 4), (0.014, 0.009, 6), (0.01, 0.009, 9), (0.5, 1.0, 12)])
def test_power_is_statsmodels_paired_t_power(effect, sd, n):
    assert power(effect, sd, n) == pytest.approx(TTestPower().power(effect_size=effect / sd, nobs=n, alpha=0.05), rel=1e-9)


@pytest.mark.parametrize("effect, sd, expected", [(0.02, 0.009, 4), (0.014, 0.009, 6), (0.01, 0.009, 9)])
def test_seeds_for_80_percent_power_round_up_statsmodels_solution(effect, sd, expected):
    # The plan for a pooled paired SD of 0.009 nats/byte.
    exact = TTestPower().solve_power(effect_size=effect / sd, alpha=0.05, power=0.8)
    assert seeds_for(effect, sd) == math.ceil(exact) == expected


def test_minimum_detectable_effect_has_80_percent_power_and_matches_the_closed_form():
    mde = min_detectable_effect(0.009, 3)
    assert power(mde, 0.009, 3) == pytest.approx(0.8, abs=1e-9)
    assert mde == pytest.approx(0.029, abs=5e-4)  # "with 3 seeds only effects >= 0.029 are found reliably"
    closed = (stats.t.ppf(0.975, 29) + stats.t.ppf(0.8, 29)) * 1.0 / math.sqrt(30)  # the approximation, large n
    assert min_detectable_effect(1.0, 30) == pytest.approx(closed, rel=0.02)


def test_stein_two_stage_reaches_its_width_and_covers_95_percent():
    """Simulated pilots of 3 from a known normal: the second stage's n follows Stein's formula, every interval is
    at most the target half-width wide, and about 95% of them cover the true mean."""
    rng = np.random.default_rng(0)
    true_mean, sd, pilot, half_width = 0.3, 1.0, 3, 0.5
    covered, trials = 0, 4000
    for _ in range(trials):
        first = rng.normal(true_mean, sd, pilot)
        n = stein_seeds(first.std(ddof=1), pilot, half_width)
        t = stats.t.ppf(0.975, pilot - 1)
        assert n == max(pilot, math.floor((t * first.std(ddof=1) / half_width) ** 2) + 1)
        ci = stein_interval(np.concatenate([first, rng.normal(true_mean, sd, n - pilot)]), pilot)
        assert (ci.high - ci.low) / 2 <= half_width + 1e-12
        covered += ci.low <= true_mean <= ci.high
    assert covered / trials == pytest.approx(0.95, abs=0.012)
