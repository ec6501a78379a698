import dataclasses
import json
import math

import pandas as pd
import pytest

from ablations.analysis import claim_verdicts, compare, load_runs, lr_sensitivity
from ablations.report import write_overview
from ablations.spec import Ablation, Expectation
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
    assert verdict(Expectation(metric="m", direction="lower"), paired_difference_ci([1.0], [2.0])) == "inconclusive"


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
    assert verdict(Expectation(metric="m", direction=direction), Interval((low + high) / 2, low, high, 3)) == expected


@pytest.mark.parametrize(
    "low, high, expected",
    [(-0.05, 0.005, "reproduced"), (-0.05, -0.02, "reproduced"), (0.02, 0.05, "contradicted"), (-0.01, 0.02, "inconclusive")],
)
def test_verdict_rule_for_matches_or_beats(low, high, expected):
    expectation = Expectation(metric="m", direction="not_higher", margin=0.01)
    assert verdict(expectation, Interval((low + high) / 2, low, high, 3)) == expected


def test_a_claim_holds_only_when_every_part_does():
    assert overall_verdict(["reproduced", "reproduced"]) == "reproduced"
    assert overall_verdict(["reproduced", "inconclusive"]) == "inconclusive"
    assert overall_verdict(["reproduced", "contradicted"]) == "contradicted"


ABLATION = Ablation(
    name="a",
    claim="b is better",
    source="s",
    base={},
    variants={"a": {}, "b": {}},
    baseline="a",
    treatment="b",
    expectations=(Expectation(metric="final_val_loss", direction="lower"),),
)


def _run(variant, seed, loss, corpus="x@1", diverged=False, design="d", finished="2026-01-01"):
    return dict(variant=variant, seed=seed, final_val_loss=None if diverged else loss, tokens_per_s=1000.0 + seed,
                step_time_s=0.1, diverged=diverged, preset="tiny", corpus_label=corpus, design=design, device="cpu",
                concurrency=1, superseded=False, finished_at=finished, lr=1e-3, train={"lr": 1e-3})


def test_compare_pairs_by_seed_counts_divergence_and_never_pools_corpora():
    runs = pd.DataFrame(
        [_run("a", s, 2.0 + 0.1 * s) for s in range(3)]
        + [_run("b", 0, 1.9), _run("b", 1, 1.99), _run("b", 2, 0, diverged=True)]
        + [_run("a", s, 9.0, corpus="y@2") for s in range(3)]
        + [_run("b", 0, 8.0, corpus="y@2"), _run("b", 1, 7.9, corpus="y@2"), _run("b", 2, 7.8, corpus="y@2")]
    )
    table = compare(runs, ABLATION)
    loss = table[(table["metric"] == "final_val_loss") & (table["variant"] == "b")].set_index("corpus_label")
    assert loss.loc["x@1", "runs"] == 3 and loss.loc["x@1", "diverged"] == 1
    assert loss.loc["x@1", "pairs"] == 2  # the diverged seed has no loss to pair
    assert loss.loc["x@1", "diff_mean"] == pytest.approx(-0.105)
    assert loss.loc["y@2", "diff_mean"] == pytest.approx(-1.1)  # computed within its own corpus only
    # On x@1 the pairs favour b, but b diverged where a did not: that counts against the claim.
    assert claim_verdicts(table) == {("tiny", "x@1", "d", 1e-3): "contradicted", ("tiny", "y@2", "d", 1e-3): "reproduced"}


def test_runs_of_an_older_variant_definition_are_superseded(tmp_path):
    root = tmp_path / "runs" / "a"
    old, new = "2025-01-01", "2026-02-01"
    runs = [_run("a", 0, 2.0), _run("a", 1, 2.1), _run("b", 0, 5.0, finished=old), _run("b", 1, 5.0, finished=old),
            _run("b", 0, 1.9, finished=new), _run("b", 1, 2.0, finished=new)]
    for i, run in enumerate(runs):
        (root / str(i)).mkdir(parents=True)
        (root / str(i) / "summary.json").write_text(json.dumps({**run, "run_id": str(i)}))
    loaded = load_runs(tmp_path, "a")
    assert sorted(loaded.loc[loaded["superseded"], "final_val_loss"]) == [5.0, 5.0]
    loss = compare(loaded, ABLATION).query("metric == 'final_val_loss' and variant == 'b'").iloc[0]
    assert (loss["runs"], loss["diff_mean"]) == (2, pytest.approx(-0.1))


def test_lr_sensitivity_is_the_mean_gap_to_the_best_lr_with_divergence_capped_at_chance(tmp_path):
    chance = math.log(256)
    losses = {  # variant → seed → loss per LR (None: diverged)
        "a": {0: [2.0, 1.8, None], 1: [2.1, 1.9, None], 2: [2.0, 1.7, 9.0]},  # 9.0: worse than chance
        "b": {0: [2.0, 1.9, 1.95], 1: [2.0, 1.85, 1.9], 2: [2.2, 1.8, 1.9]},
    }
    runs = pd.DataFrame([
        {**_run(variant, seed, loss, diverged=loss is None), "lr": lr, "train": {"lr": lr}, "model": {"vocab_size": 256}}
        for variant, seeds in losses.items() for seed, per_lr in seeds.items() for lr, loss in zip((1e-3, 3e-3, 1e-2), per_lr)
    ])
    claimed = dataclasses.replace(ABLATION, expectations=(Expectation(metric="lr_sensitivity", direction="lower"),))
    table = lr_sensitivity(runs, claimed).set_index("variant")
    scored = {v: [[chance if x is None else min(x, chance) for x in row] for row in by_seed.values()]
              for v, by_seed in losses.items()}
    expected = {v: [sum(x - min(row) for x in row) / 3 for row in rows] for v, rows in scored.items()}
    assert table.loc["a", "mean"] == pytest.approx(sum(expected["a"]) / 3)
    diff = paired_difference_ci(expected["b"], expected["a"])
    assert (table.loc["b", "diff_low"], table.loc["b", "diff_high"]) == (pytest.approx(diff.low), pytest.approx(diff.high))
    assert table.loc["b", "verdict"] == "reproduced" and table.loc["b", "lrs"] == [1e-3, 3e-3, 1e-2]
    assert lr_sensitivity(runs[runs["lr"] == 1e-3], claimed).empty  # one LR is no sweep

    # The report and the overview carry the sweep: its figure, its table and a verdict row of its own.
    for i, run in enumerate(runs.to_dict("records")):
        (tmp_path / "runs" / "a" / str(i)).mkdir(parents=True)
        (tmp_path / "runs" / "a" / str(i) / "summary.json").write_text(json.dumps({**run, "run_id": str(i)}))
    overview = write_overview([claimed], tmp_path).read_text()
    table = (tmp_path / "reports" / "a" / "table.md").read_text()
    assert "## LR sweep · preset `tiny` · corpus `x@1` · lr 0.001, 0.003, 0.01" in table
    assert "**a**: lower LR sensitivity (b vs a)" in overview and "tiny, lr 0.001, 0.003, 0.01, 3 seeds" in overview
    assert (tmp_path / "reports" / "a" / "tiny-x-1-d-lr-sweep.png").read_bytes()[:4] == b"\x89PNG"
