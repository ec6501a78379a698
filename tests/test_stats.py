import math

import pandas as pd
import pytest

from ablations.spec import Expectation
from ablations.stats import Interval, mean_ci, overall_verdict, paired_difference_ci, verdict


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
    assert verdict(Expectation(metric="final_val_loss", direction="lower"), paired_difference_ci([1.0], [2.0])) == "inconclusive"


@pytest.mark.parametrize(
    "direction, low, high, expected",
    [
        ("lower", -0.3, -0.1, "reproduced"),
        ("lower", 0.1, 0.3, "contradicted"),
        ("lower", -0.1, 0.1, "inconclusive"),
        ("higher", 5.0, 9.0, "reproduced"),
        ("higher", -9.0, -5.0, "contradicted"),
        ("higher", -1.0, 1.0, "inconclusive"),
    ],
)
def test_verdict_rule_for_directional_claims(direction, low, high, expected):
    claim = Expectation(metric="final_val_loss", direction=direction)
    assert verdict(claim, Interval((low + high) / 2, low, high, 3)) == expected


@pytest.mark.parametrize(
    "low, high, expected",
    [(-0.05, 0.005, "reproduced"), (-0.05, -0.02, "reproduced"), (0.02, 0.05, "contradicted"), (-0.01, 0.02, "inconclusive")],
)
def test_verdict_rule_for_matches_or_beats(low, high, expected):
    expectation = Expectation(metric="final_val_loss", direction="not_higher", margin=0.01)
    assert verdict(expectation, Interval((low + high) / 2, low, high, 3)) == expected


def test_a_claim_holds_only_when_every_part_does():
    assert overall_verdict(["reproduced", "reproduced"]) == "reproduced"
    assert overall_verdict(["reproduced", "inconclusive"]) == "inconclusive"
    assert overall_verdict(["reproduced", "contradicted"]) == "contradicted"
