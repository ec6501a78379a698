import dataclasses
import math

import pandas as pd
import pytest

from ablations.analysis import claim_verdicts, compare, load_runs, lr_sensitivity
from ablations.report import write_overview
from ablations.run_record import RunRecord
from ablations.spec import Ablation, Expectation
from ablations.stats import paired_difference_ci

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
        RunRecord(root / str(i)).write_summary({**run, "run_id": str(i)})
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
        RunRecord.at(tmp_path, "a", str(i)).write_summary({**run, "run_id": str(i)})
    overview = write_overview([claimed], tmp_path).read_text()
    table = (tmp_path / "reports" / "a" / "table.md").read_text()
    assert "## LR sweep · preset `tiny` · corpus `x@1` · lr 0.001, 0.003, 0.01" in table
    assert "**a**: lower LR sensitivity (b vs a)" in overview and "tiny, lr 0.001, 0.003, 0.01, 3 seeds" in overview
    assert (tmp_path / "reports" / "a" / "tiny-x-1-d-lr-sweep.png").read_bytes()[:4] == b"\x89PNG"
