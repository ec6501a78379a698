"""The verdict type and its rule: the words a verdict may say, the rule for each claim direction, and the
row every verdict writes."""

import math

import pytest

from ablations.declare.spec import Claim
from ablations.judge.stats import Interval, paired_difference_ci
from ablations.judge.verdict import COLUMNS, NO_EFFECT, Verdict, Where, decide


def claim(direction="lower", margin=0.0, metric="final_val_loss"):
    return Claim(says="s", treatment="t", baseline="b", metric=metric, direction=direction, margin=margin,
                 target=0.02, why="w")


def test_one_seed_is_inconclusive():
    assert decide(claim(), paired_difference_ci([1.0], [2.0])) == "inconclusive"


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
    assert decide(claim(direction), Interval((low + high) / 2, low, high, 3)) == expected


@pytest.mark.parametrize(
    "low, high, expected",
    [(-0.05, 0.005, "reproduced"), (-0.05, -0.02, "reproduced"), (0.02, 0.05, "contradicted"), (-0.01, 0.02, "inconclusive")],
)
def test_verdict_rule_for_matches_or_beats(low, high, expected):
    assert decide(claim("not_higher", 0.01), Interval((low + high) / 2, low, high, 3)) == expected


@pytest.mark.parametrize(
    "low, high, expected",
    [(-0.008, 0.009, "equivalent"), (-0.012, 0.005, "inconclusive"), (0.011, 0.03, "contradicted"),
     (-0.03, -0.02, "contradicted"), (-0.02, 0.02, "inconclusive")],
)
def test_equivalence_needs_the_whole_ci_inside_the_margin(low, high, expected):
    assert decide(claim("matches", 0.01), Interval((low + high) / 2, low, high, 3)) == expected


def test_a_verdict_says_only_a_known_word():
    with pytest.raises(ValueError, match="not one of reproduced, equivalent"):
        Verdict(claim(), Where(), NO_EFFECT, "probably")


def test_a_verdicts_row_has_every_column_whatever_judged_it():
    runs = Verdict(claim(), Where(preset="tiny", lr=1e-3, lrs="0.001"), Interval(-0.1, -0.2, 0.0, 3), "inconclusive")
    speed = Verdict(claim(metric="step_time_s"), Where(preset="tiny", device="cpu", compiled=True),
                    Interval(0.05, 0.01, 0.09, 30), "reproduced")
    assert list(runs.row()) == list(speed.row()) == list(COLUMNS)
    assert (runs.is_speed, runs.pair_unit, runs.row()["unit"]) == (False, "pairs", "nats/byte")
    assert (speed.is_speed, speed.pair_unit, speed.row()["unit"], speed.pairs) == (True, "rounds", "relative", 30)
    assert math.isnan(speed.row()["lr"]) and runs.row()["device"] == ""
