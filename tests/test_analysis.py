import dataclasses
import json
import math

import pytest

from ablations.declare.presets import PRESETS
from ablations.declare.spec import Ablation, Claim
from ablations.judge.analysis import compare, current, load_runs, lr_sensitivity
from ablations.judge.claims import judge
from ablations.judge.stats import paired_difference_ci
from ablations.reporting.overview import write_overview
from ablations.reporting.report import write_report
from ablations.runs.resolve import model_config, resolve
from ablations.runs.run_record import RunRecord

B_IS_BETTER = Claim(says="b is better", treatment="b", baseline="a", metric="final_val_loss", direction="lower",
                    target=0.05, why="w")
ABLATION = Ablation(name="a", headline="b is better", source="s", base={}, variants={"a": {}, "b": {}}, baseline="a",
                    claims=(B_IS_BETTER,))


MODEL = json.loads(json.dumps(model_config(ABLATION, "a", PRESETS["tiny"]).to_dict()))  # every variant's, as stored


def _run(variant, seed, loss, corpus="x@1", diverged=False, design="d", finished="2026-01-01", lr=1e-3, unigram=3.3):
    train = json.loads(json.dumps(PRESETS["tiny"].train.to_dict())) | {"lr": lr}  # no variant here overrides training
    return dict(variant=variant, seed=seed, final_val_loss=None if diverged else loss, tokens_per_s=1000.0 + seed,
                step_time_s=0.1, diverged=diverged, preset="tiny", corpus_label=corpus, design=design, device="cpu",
                concurrency=1, finished_at=finished, train=train, unigram_val_loss=unigram, model=MODEL,
                params=1000, run_id=f"{variant}-{seed}-{lr}-{corpus}-{finished}")


def _frame(runs, tmp_path):
    """The runs as `ablate report` sees them: written as summaries, loaded back."""
    for run in runs:
        RunRecord.at(tmp_path, "a", run["run_id"]).write_summary(run)
    return load_runs(tmp_path, "a")


def test_compare_pairs_by_seed_counts_divergence_and_never_pools_corpora(tmp_path):
    runs = _frame(
        [_run("a", s, 2.0 + 0.1 * s) for s in range(3)]
        + [_run("b", 0, 1.9), _run("b", 1, 1.99), _run("b", 2, 0, diverged=True)]
        + [_run("a", s, 9.0, corpus="y@2", unigram=9.9) for s in range(3)]
        + [_run("b", 0, 8.0, corpus="y@2", unigram=9.9), _run("b", 1, 7.9, corpus="y@2", unigram=9.9),
           _run("b", 2, 7.8, corpus="y@2", unigram=9.9)], tmp_path)
    table = compare(runs, ABLATION)
    loss = table[(table["metric"] == "final_val_loss") & (table["variant"] == "b")].set_index("corpus_label")
    assert loss.loc["x@1", "runs"] == 3 and loss.loc["x@1", "diverged"] == 1
    assert loss.loc["x@1", "pairs"] == 2  # the diverged seed has no loss to pair
    assert loss.loc["x@1", "diff_mean"] == pytest.approx(-0.105)
    assert loss.loc["y@2", "diff_mean"] == pytest.approx(-1.1)  # computed within its own corpus only
    # On x@1 the pairs favour b, but b diverged where a did not: that counts against the claim.
    verdicts = judge(runs, ABLATION).set_index("corpus_label")["verdict"]
    assert verdicts.to_dict() == {"x@1": "contradicted", "y@2": "reproduced"}


def test_a_treatment_that_diverged_counts_for_a_higher_claim_at_the_loss_at_initialisation(tmp_path):
    worse = dataclasses.replace(ABLATION, claims=(Claim(says="b is worse", treatment="b", baseline="a",
                                                        metric="final_val_loss", direction="higher", target=0.05, why="w"),))
    runs = _frame([_run("a", s, 2.0) for s in range(3)]
                  + [_run("b", 0, 2.5), _run("b", 1, 2.6), _run("b", 2, 0, diverged=True)], tmp_path)
    (row,) = judge(runs, worse).itertuples()
    expected = paired_difference_ci([2.5, 2.6, math.log(256)], [2.0, 2.0, 2.0])  # the diverged seed at log(vocab)
    assert (row.pairs, row.diff_mean, row.diff_low) == (3, pytest.approx(expected.mean), pytest.approx(expected.low))


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


LESS_SENSITIVE = Claim(says="b is less LR-sensitive", treatment="b", baseline="a", metric="lr_sensitivity",
                      direction="lower", target=0.05, why="w")


def test_lr_sensitivity_is_the_mean_gap_to_the_best_lr_with_only_divergence_capped_at_chance(tmp_path):
    chance = math.log(256)
    losses = {  # variant → seed → loss per LR (None: diverged)
        "a": {0: [2.0, 1.8, None], 1: [2.1, 1.9, None], 2: [2.0, 1.7, 9.0]},  # 9.0: worse than chance
        "b": {0: [2.0, 1.9, 1.95], 1: [2.0, 1.85, 1.9], 2: [2.2, 1.8, 3.32]},  # 3.32: stuck at unigram, kept
    }
    runs = _frame([_run(variant, seed, loss, diverged=loss is None, lr=lr)
                   for variant, seeds in losses.items() for seed, per_lr in seeds.items()
                   for lr, loss in zip((1e-3, 3e-3, 1e-2), per_lr)], tmp_path)
    claimed = dataclasses.replace(ABLATION, claims=(LESS_SENSITIVE,))
    table = lr_sensitivity(runs, claimed).set_index("variant")
    scored = {v: [[chance if x is None else min(x, chance) for x in row] for row in by_seed.values()]
              for v, by_seed in losses.items()}
    expected = {v: [sum(x - min(row) for x in row) / 3 for row in rows] for v, rows in scored.items()}
    assert table.loc["a", "mean"] == pytest.approx(sum(expected["a"]) / 3)
    assert table.loc["a", "best_lr_loss"] == pytest.approx((1.8 + 1.9 + 1.7) / 3) and table.loc["b", "lrs"] == [1e-3, 3e-3, 1e-2]
    (row,) = judge(runs, claimed).itertuples()
    diff = paired_difference_ci(expected["b"], expected["a"])
    assert (row.diff_low, row.diff_high) == (pytest.approx(diff.low), pytest.approx(diff.high))
    assert row.verdict == "reproduced" and row.lrs == "0.001, 0.003, 0.01" and "best-LR loss: b 1.850, a 1.800" in row.note
    assert lr_sensitivity(runs[runs["lr"] == 1e-3], claimed).empty  # one LR is no sweep

    # The report and the overview carry the sweep: its figure, its table and a verdict row of its own.
    overview = write_overview([claimed], tmp_path).read_text()
    table = (tmp_path / "reports" / "a" / "table.md").read_text()
    assert "## LR sweep · preset `tiny` · corpus `x@1` · lr 0.001, 0.003, 0.01" in table
    assert "**a**: b is less LR-sensitive" in overview and "tiny, lr 0.001, 0.003, 0.01, 3 pairs" in overview
    design = resolve(claimed, "tiny").hash  # counted runs take today's design hash
    assert (tmp_path / "reports" / "a" / f"tiny-x-1-{design}-lr-sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_a_variant_that_never_trains_is_not_scored_as_lr_insensitive(tmp_path):
    """Post-norm stuck at the unigram level at every LR has sensitivity 0; that must not read as stability."""
    runs = _frame([_run("a", seed, 3.29 + 0.001 * seed, lr=lr) for seed in range(3) for lr in (1e-3, 1e-2)]
                  + [_run("b", seed, loss + 0.01 * seed, lr=lr) for seed in range(3) for lr, loss in ((1e-3, 2.0), (1e-2, 2.5))],
                  tmp_path)
    assert set(runs.loc[runs["variant"] == "a", "outcome"]) == {"did not train"}
    (row,) = judge(runs, dataclasses.replace(ABLATION, claims=(LESS_SENSITIVE,))).itertuples()
    assert row.verdict == "not scored" and "a never trained at any LR" in row.note


def test_no_claim_is_scored_against_a_baseline_that_did_not_train(tmp_path):
    runs = _frame([_run("a", seed, 3.3, unigram=3.35) for seed in range(3)] + [_run("b", seed, 2.0) for seed in range(3)],
                  tmp_path)
    (row,) = judge(runs, ABLATION).itertuples()
    assert row.verdict == "not scored" and row.note.startswith("not scored: the baseline a never trained")


def test_an_interaction_claim_scores_the_difference_of_differences(tmp_path):
    """Warm-up helps post-norm more than pre-norm: (post − post_nw) − (pre − pre_nw), per seed."""
    losses = {"post": [2.5, 2.6, 2.55], "post_nw": [3.3, 3.31, 3.29], "pre": [2.39, 2.4, 2.38], "pre_nw": [2.35, 2.36, 2.37]}
    interaction = Claim(says="warm-up helps post more", treatment="post", baseline="post_nw", minus=("pre", "pre_nw"),
                        metric="final_val_loss", direction="lower", target=0.05, why="w")
    ablation = Ablation(name="a", headline="h", source="s", base={}, variants={v: {} for v in losses}, baseline="post_nw",
                        claims=(interaction,))
    runs = _frame([_run(v, seed, loss, unigram=3.35) for v, per_seed in losses.items() for seed, loss in enumerate(per_seed)],
                  tmp_path)
    (row,) = judge(runs, ablation).itertuples()
    per_seed = [(p - pn) - (q - qn) for p, pn, q, qn in zip(*losses.values())]
    assert row.diff_mean == pytest.approx(sum(per_seed) / 3) and row.pairs == 3
    assert row.verdict == "reproduced"  # post_nw did not train, and that is the effect an interaction measures


def test_divergence_counts_against_lower_loss_claims_only(tmp_path):
    """A treatment that diverges supports 'its loss is higher'; it contradicts 'its loss is lower'."""
    worse = Claim(says="b is worse", treatment="b", baseline="a", metric="final_val_loss", direction="higher",
                  target=0.05, why="w")
    runs = _frame([_run("a", s, 2.0 + 0.01 * s) for s in range(4)]
                  + [_run("b", s, 2.2 + 0.012 * s) for s in range(3)] + [_run("b", 3, 0, diverged=True)], tmp_path)
    verdicts = judge(runs, dataclasses.replace(ABLATION, claims=(worse, B_IS_BETTER))).set_index("says")["verdict"]
    assert verdicts.to_dict() == {"b is worse": "reproduced", "b is better": "contradicted"}


def test_runs_of_a_redefined_variant_leave_the_tables_without_breaking_them(tmp_path):
    """After a variant's architecture changes, its old runs no longer count, and the report still writes."""
    runs = [_run(v, s, 2.0, unigram=9.9) | {"model": MODEL | {"norm": "layer"}} for v in "ab" for s in range(2)]
    loaded = _frame(runs, tmp_path)
    redefined = dataclasses.replace(ABLATION, variants={"a": {"norm": "rms"}, "b": {"norm": "rms"}})
    assert len(current(loaded, ABLATION)) == 4 and current(loaded, redefined).empty
    assert "not run" in set(judge(loaded, redefined)["verdict"])
    assert write_report(redefined, tmp_path)[0].exists()


def test_a_stray_lr_outside_the_declared_sweep_leaves_the_sensitivity_claim_standing(tmp_path):
    swept = dataclasses.replace(ABLATION, claims=(LESS_SENSITIVE,), lrs=(1e-3, 1e-2))
    runs = [_run(v, s, 2.0 + (0.3 if (v, lr) == ("a", 1e-2) else 0.0) + 0.01 * s, lr=lr)
            for v in "ab" for s in range(3) for lr in (1e-3, 1e-2)] + [_run("a", 0, 2.0, lr=3e-3)]
    (row,) = judge(_frame(runs, tmp_path), swept).itertuples()
    assert row.pairs == 3 and row.lrs == "0.001, 0.01" and row.verdict == "reproduced"


def test_the_results_read_are_yours_when_you_have_any_else_the_committed_ones(tmp_path, monkeypatch):
    from ablations.judge.analysis import results_to_read

    monkeypatch.delenv("ABLATE_RESULTS", raising=False)
    mine, committed = tmp_path / "ablate-results", tmp_path / "results"
    assert results_to_read(mine, committed) == committed  # a fresh clone: nothing of yours
    (mine / "runs" / "x" / "abc123").mkdir(parents=True)
    (mine / "runs" / "x" / "abc123" / "config.json").write_text("{}")
    assert results_to_read(mine, committed) == committed  # started, not finished
    (mine / "runs" / "x" / "abc123" / "summary.json").write_text("{}")
    assert results_to_read(mine, committed) == mine
    monkeypatch.setenv("ABLATE_RESULTS", str(tmp_path / "elsewhere"))
    assert results_to_read(mine, committed) == tmp_path / "elsewhere"


def test_runs_trained_under_a_bpe_tokenizer_count_as_their_variant(tmp_path):
    """`--tokenizer bpe:N` makes vocab_size N: such runs are the declared variants, not redefined ones."""
    bpe = [_run(v, s, 2.0, unigram=9.9) | {"model": MODEL | {"vocab_size": 512}, "tokenizer": "bpe:512"} for v in "ab" for s in range(2)]
    mislabelled = [_run("a", 9, 2.0, unigram=9.9) | {"model": MODEL | {"vocab_size": 512}, "tokenizer": "bytes"}]
    assert len(current(_frame(bpe + mislabelled, tmp_path), ABLATION)) == 4


def test_a_reference_folder_counts_only_runs_from_a_clean_committed_tree(tmp_path):
    clean, dirty = "a" * 40, "b" * 40 + "-dirty"
    runs = [_run(v, s, 2.0 + (0.1 if v == "b" else 0) + 0.01 * s) | {"git_commit": clean} for v in "ab" for s in range(3)]
    runs += [_run("b", 3, 1.0) | {"git_commit": dirty}, _run("a", 3, 2.0) | {"git_commit": "unknown"}]
    assert len(current(_frame(runs, tmp_path), ABLATION)) == 8  # your own folder: every run counts
    (tmp_path / "reference-runs.md").write_text("reference")
    loaded = _frame(runs, tmp_path)
    assert sorted(loaded["provenance"]) == ["clean"] * 6 + ["dirty", "unknown"]
    assert len(current(loaded, ABLATION)) == 6
    (row,) = judge(loaded, ABLATION).itertuples()
    assert row.pairs == 3 and row.diff_mean == pytest.approx(0.1)
    report = write_report(ABLATION, tmp_path)[0].read_text()
    assert "2 run(s) trained from an uncommitted or unrecorded tree are left out" in report
    assert "dirty: 1 b; unknown: 1 a" in report


def test_designs_that_differ_only_by_the_schema_they_were_stored_under_are_one_group(tmp_path):
    """Seeds 0-2 stored under an older design hash, seeds 3-5 under today's: the same configs, one comparison."""
    runs = [_run(v, s, 2.0 + (0.05 if v == "b" else 0) + 0.01 * s, design="old" if s < 3 else "new")
            for v in "ab" for s in range(6)]
    counted = current(_frame(runs, tmp_path), ABLATION)
    assert set(counted["design"]) == {resolve(ABLATION, "tiny").hash} and len(counted) == 12
    (row,) = judge(counted, ABLATION).itertuples()
    assert row.pairs == 6


def test_a_row_with_nothing_to_pair_says_which_seeds_and_command_would_settle_it(tmp_path):
    unrun = Claim(says="c is better", treatment="c", baseline="a", metric="final_val_loss", direction="lower",
                  target=0.05, why="w")
    ablation = dataclasses.replace(ABLATION, variants={"a": {}, "b": {}, "c": {}}, claims=(unrun,), first_seed=4)
    runs = _frame([_run(v, s, 2.0) for v in ("a", "b") for s in range(3)], tmp_path)
    (row,) = judge(runs, ablation).itertuples()
    assert row.verdict == "not run" and row.note.endswith("`ablate run a` trains its pilot, seeds 4–6")
