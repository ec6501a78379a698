"""The scale ladder: its rungs (declare/presets.py), `ablate ladder` (cli/ladder.py), the trend of a claim's effect
against size and its verdict (judge/ladder.py), and the report's ladder section (reporting/ladder_report.py)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import ablate
from scipy import stats

from ablations.catalogue import get_ablation
from ablations.declare.presets import LADDER, PRESETS
from ablations.judge.analysis import current, load_runs
from ablations.judge.claims import verdicts
from ablations.judge.ladder import trends
from ablations.judge.verdict import FLIPS, GROWS, HOLDS, INCONCLUSIVE, NOT_RUN, SHRINKS
from ablations.reporting.overview import write_overview
from ablations.reporting.report import write_report
from ablations.runs.resolve import model_config, train_config
from ablations.runs.run_record import RunRecord
from models import ModelConfig, non_embedding_params


def test_the_rungs_keep_tinys_shape_rule_and_tokens_per_parameter_and_tiny_is_one_of_them():
    tiny = PRESETS["tiny"]
    assert "tiny" in LADDER and list(LADDER) == sorted(LADDER, key=lambda p: PRESETS[p].model["n_layers"])
    for name in LADDER:
        preset = PRESETS[name]
        d, layers = preset.model["d_model"], preset.model["n_layers"]
        assert d == 32 * layers and d // preset.model["n_heads"] == 32 and preset.model["context"] == tiny.model["context"]
        assert preset.tokens_per_parameter() == pytest.approx(tiny.tokens_per_parameter(), rel=2e-3)  # to the step
        assert preset.train.lr == pytest.approx(tiny.train.lr * 128 / d)
        assert preset.train.warmup_steps / preset.train.steps == pytest.approx(0.05, abs=1e-3)
    params = [non_embedding_params(ModelConfig(**PRESETS[p].model)) for p in LADDER]
    assert params[0] < 0.4e6 and 2e6 < params[-1] < 4e6  # ~0.3M to ~2.7M


def _ladder_runs(tmp_path, differences: dict[str, list[float]], name="serial_vs_parallel"):
    """Summaries of the ablation's two variants at ladder rungs whose paired loss differences are given (finished
    after every claim took its form: confirmatory)."""
    ablation = get_ablation(name)
    base, treated = ablation.claims[0].baseline, ablation.claims[0].treatment
    for preset, diffs in differences.items():
        for seed, diff in enumerate(diffs, start=ablation.first_seed):
            for variant, loss in ((base, 1.8), (treated, 1.8 + diff)):
                train = json.loads(json.dumps(train_config(ablation, variant, PRESETS[preset]).to_dict()))
                model = model_config(ablation, variant, PRESETS[preset]).to_dict()
                RunRecord.at(tmp_path, name, f"{preset}-{variant}{seed}").write_summary(dict(
                    run_id=f"{preset}-{variant}{seed}", variant=variant, seed=seed, preset=preset, corpus_label="x",
                    design="d", train=train, final_val_loss=loss, diverged=False, unigram_val_loss=3.3,
                    finished_at="2099-01-01T00:00:00", device="cpu", concurrency=1, params=1, model=model))
    runs = load_runs(tmp_path, name)
    counted = current(runs, ablation)
    return ablation, counted, trends(verdicts(counted, ablation), counted, ablation)


def test_the_slope_and_its_ci_are_a_least_squares_fit_with_a_fixed_effect_per_seed(tmp_path):
    diffs = {"rung-3x96": [0.030, 0.020, 0.026], "tiny": [0.015, 0.022, 0.010], "rung-5x160": [0.012, 0.004, 0.009]}
    ablation, counted, (trend, *_) = _ladder_runs(tmp_path, diffs)
    params = {p: non_embedding_params(model_config(ablation, "serial", PRESETS[p])) for p in diffs}
    x = np.array([math.log10(params[p]) for p, d in diffs.items() for _ in d])
    y = np.array([v for d in diffs.values() for v in d])
    seed = np.array([s for d in diffs.values() for s in range(len(d))])
    design = np.column_stack([x, *(seed == s for s in range(3))]).astype(float)  # slope, one intercept per seed
    coef, residual, *_ = np.linalg.lstsq(design, y, rcond=None)
    dof = len(y) - design.shape[1]
    se = math.sqrt(residual[0] / dof * np.linalg.inv(design.T @ design)[0, 0])
    half = stats.t.ppf(0.975, dof) * se
    assert trend.slope.mean == pytest.approx(coef[0], rel=1e-9)
    assert (trend.slope.low, trend.slope.high) == (pytest.approx(coef[0] - half, rel=1e-9),
                                                   pytest.approx(coef[0] + half, rel=1e-9))
    assert trend.intercept == pytest.approx(y.mean() - coef[0] * x.mean(), rel=1e-9)
    assert [r.params for r in trend.rungs] == [params[p] for p in diffs]  # the baseline's own parameters
    assert [r.verdict.sd for r in trend.rungs] == [pytest.approx(np.std(d, ddof=1)) for d in diffs.values()]


@pytest.mark.parametrize("diffs, word", [
    # parallel − serial loss, claim "not higher than +0.01": a cost that falls with size toward zero
    ({"rung-3x96": [0.030, 0.020, 0.026], "tiny": [0.015, 0.022, 0.010], "rung-5x160": [0.012, 0.004, 0.009]}, SHRINKS),
    ({"rung-3x96": [0.002, 0.004, 0.003], "tiny": [0.010, 0.012, 0.011], "rung-5x160": [0.020, 0.022, 0.021]}, GROWS),
    ({"rung-3x96": [0.020, 0.024, 0.022], "tiny": [0.001, -0.002, 0.0], "rung-5x160": [-0.020, -0.022, -0.021]}, FLIPS),
    ({"rung-3x96": [-0.010, -0.002, -0.006], "tiny": [-0.004, -0.011, -0.003], "rung-5x160": [-0.009, -0.001, -0.004]},
     HOLDS),
    ({"rung-3x96": [-0.010, 0.012, 0.000], "tiny": [0.004, -0.011, 0.003], "rung-5x160": [-0.009, 0.011, 0.002]},
     INCONCLUSIVE),
    # neither end rung's CI excludes zero, but the slope does and the fit crosses zero inside the ladder
    ({"rung-3x96": [0.012, 0.002, 0.008], "tiny": [0.001, -0.004, 0.003], "rung-5x160": [-0.009, -0.017, -0.011]},
     FLIPS),
    ({"rung-3x96": [0.01, 0.02, 0.015], "tiny": [0.01, 0.02, 0.015]}, NOT_RUN),  # two rungs: no trend
])
def test_the_trend_verdict_follows_the_declared_rule(tmp_path, diffs, word):
    *_, found = _ladder_runs(tmp_path, diffs)
    (trend,) = [t for t in found if t.claim.metric == "final_val_loss"]
    assert trend.word == word, trend.note
    rows = {r.preset: r.verdict for r in trend.rungs}
    if word == FLIPS and rows["rung-3x96"].effect.low < 0:
        assert "the fit crosses zero near" in trend.note
    if word == INCONCLUSIVE:
        assert "would settle it" in trend.note
    if word == NOT_RUN:
        assert "ablate ladder serial_vs_parallel" in trend.note and "rung-5x160" in trend.note


def test_the_report_has_a_ladder_section_with_per_size_rows_a_trend_and_a_figure(tmp_path):
    diffs = {"rung-3x96": [0.030, 0.020, 0.026], "tiny": [0.015, 0.022, 0.010], "rung-5x160": [0.012, 0.004, 0.009]}
    ablation, *_ = _ladder_runs(tmp_path, diffs)
    paths = write_report(ablation, tmp_path)
    text = (tmp_path / "reports" / ablation.name / "table.md").read_text()
    assert "## Scale ladder" in text and f"**{SHRINKS}**" in text
    assert all(f"| {ablation.claims[0].says} | {p} |" in text for p in diffs)
    figure, csv = tmp_path / "reports" / ablation.name / "ladder-0.png", tmp_path / "reports" / ablation.name / "ladder.csv"
    assert figure in paths and figure.stat().st_size > 0 and csv in paths
    rows = pd.read_csv(csv)
    assert list(rows["preset"]) == list(diffs) and set(rows["trend"]) == {SHRINKS}
    overview = write_overview([ablation], tmp_path).read_text()  # results/README.md: one row per trend
    assert "## Scale ladder" in overview
    assert f"| **{ablation.name}**: {ablation.claims[0].says} | x | {', '.join(diffs)} | **{SHRINKS}** |" in overview


def test_a_ladder_that_cannot_read_its_corpus_once_at_every_rung_is_refused_before_anything_is_written(tmp_path):
    text = tmp_path / "small.txt"
    text.write_text("".join(f"line {i} of a corpus too small for the ladder\n" for i in range(20_000)))
    done = ablate("ladder", "serial_vs_parallel", "--data", str(text), "--results-dir", str(tmp_path / "results"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "--rungs tiny,rung-5x160,rung-6x192: " in done.stderr and "single-pass at every rung" in done.stderr
    assert not (tmp_path / "results").exists()


def test_a_ladder_runs_its_rungs_as_ordinary_runs(tmp_path):
    done = ablate("ladder", "serial_vs_parallel", "--rungs", "smoke", "--seeds", "1", "--executor", "debug",
                  "--data", "stdlib", "--results-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke: " in done.stdout and "1 run(s)" not in done.stdout  # two variants, one seed
    summaries = [r.read_summary() for r in RunRecord.done(tmp_path, "serial_vs_parallel")]
    assert sorted((s["variant"], s["preset"]) for s in summaries) == [("parallel", "smoke"), ("serial", "smoke")]


def test_a_ladder_under_seeds_auto_plans_each_rungs_second_stage_from_that_rungs_pilot(tmp_path):
    done = ablate("ladder", "serial_vs_parallel", "--rungs", "smoke", "--seeds", "auto", "--max-seeds", "4",
                  "--executor", "debug", "--data", "stdlib", "--results-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    seeds = sorted((s["variant"], s["seed"]) for s in (r.read_summary() for r in RunRecord.done(tmp_path, "serial_vs_parallel")))
    pilot = [(v, s) for v in ("parallel", "serial") for s in range(3, 6)]
    assert set(pilot) <= set(seeds) and len(seeds) <= 8  # the pilot, then at most the cap of 4 seeds per variant
    assert ("--seeds auto: serial at lr" in done.stdout) == (len(seeds) > 6)


def test_runs_at_one_rung_alone_are_no_ladder_and_leave_no_ladder_files(tmp_path):
    ablation, _, found = _ladder_runs(tmp_path, {"tiny": [0.01, 0.02, 0.015]})  # tiny, as every ablation runs it
    assert found == []
    out = tmp_path / "reports" / ablation.name
    out.mkdir(parents=True)
    (out / "ladder-0.png").write_bytes(b"an earlier report's figure")
    write_report(ablation, tmp_path)
    assert not list(out.glob("ladder*")) and "## Scale ladder" not in (out / "table.md").read_text()
