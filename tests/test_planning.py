import json

import numpy as np
import pytest
from conftest import ablate

from ablations.catalogue import get_ablation
from ablations.declare.presets import PRESETS
from ablations.judge.analysis import load_runs
from ablations.judge.planning import plan_table, second_stage
from ablations.judge.stats import min_detectable_effect, seeds_for, stein_seeds
from ablations.runs.resolve import model_config, train_config
from ablations.runs.run_record import RunRecord


def _pilot(tmp_path, differences, finished="2026"):
    """rmsnorm_vs_layernorm pilot summaries at the tiny preset whose paired loss differences are known."""
    ablation = get_ablation("rmsnorm_vs_layernorm")
    for seed, diff in enumerate(differences):
        for variant, loss in (("layernorm", 1.8), ("rmsnorm", 1.8 + diff)):
            train = json.loads(json.dumps(train_config(ablation, variant, PRESETS["tiny"]).to_dict()))
            RunRecord.at(tmp_path, ablation.name, f"{variant}{seed}").write_summary(dict(
                run_id=f"{variant}{seed}", variant=variant, seed=seed, preset="tiny", corpus_label="x", design="d",
                train=train, final_val_loss=loss, diverged=False, unigram_val_loss=3.3, finished_at=finished, device="cpu",
                concurrency=1, params=1, model=model_config(ablation, variant, PRESETS["tiny"]).to_dict()))
    return ablation, load_runs(tmp_path, ablation.name)


def test_the_plan_reports_detectable_effect_power_seeds_and_steins_total(tmp_path):
    differences = [0.004, -0.006, 0.009]
    ablation, runs = _pilot(tmp_path, differences)
    (row,) = plan_table(runs, ablation).itertuples()
    sd = float(np.std(differences, ddof=1))
    assert row.pairs == 3 and row.sd == pytest.approx(sd, rel=1e-9)
    # A matches claim needs the pairs that tell the observed effect from its margin of 0.01.
    room = 0.01 - abs(np.mean(differences))
    assert row.detectable == pytest.approx(min_detectable_effect(sd, 3)) and row.seeds_needed == seeds_for(room, sd)
    assert row.stein_seeds == stein_seeds(sd, 3, 0.005)  # a matches claim aims at half its margin
    assert second_stage(runs, ablation, pilot=3, most=6) == {("layernorm", 2e-3): min(6, row.stein_seeds),
                                                             ("rmsnorm", 2e-3): min(6, row.stein_seeds)}
    printed = ablate("plan", "rmsnorm_vs_layernorm", "--results-dir", str(tmp_path))
    assert printed.returncode == 0 and "| RMSNorm matches LayerNorm's loss | tiny, lr 0.002 | 3 |" in printed.stdout


def test_seeds_auto_runs_the_pilot_then_the_second_stage_for_the_claims_variants(tmp_path):
    run = ablate("run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--seeds", "auto", "--max-seeds", "4", "--executor",
                 "debug", "--data", "stdlib", "--results-dir", str(tmp_path))
    assert run.returncode == 0, run.stderr[-2000:]
    done = [r.read_summary() for r in RunRecord.done(tmp_path, "rmsnorm_vs_layernorm")]
    seeds = sorted((s["variant"], s["seed"]) for s in done)
    pilot = [(v, s) for v in ("layernorm", "rmsnorm") for s in range(3)]
    assert set(pilot) <= set(seeds) and len(seeds) <= 8
    assert ("--seeds auto: layernorm at lr 0.001" in run.stdout) == (len(seeds) > 6)


def test_a_declared_first_seed_starts_the_pilot_and_plans_the_second_stage_from_those_seeds_alone(tmp_path, monkeypatch):
    import dataclasses

    from ablations import cli

    confirmatory = [0.004, -0.006, 0.009]
    ablation, runs = _pilot(tmp_path, [0.5, -0.5, 0.4, *confirmatory])  # seeds 0–2: an old, exploratory spread
    shifted = dataclasses.replace(ablation, first_seed=3)
    expected = stein_seeds(float(np.std(confirmatory, ddof=1)), 3, 0.005)
    planned = second_stage(runs, shifted, pilot=3, most=60)
    assert expected < 60 and planned == {("layernorm", 2e-3): expected, ("rmsnorm", 2e-3): expected}

    monkeypatch.setattr(cli.run, "get_ablation", lambda name: shifted)
    args = cli.build_parser().parse_args(["run", ablation.name, "--preset", "smoke", "--data", "stdlib",
                                          "--results-dir", str(tmp_path)])
    cli.check_flags(cli.FLAGS["run"], args)  # as `ablate run` does: the checked flags, their defaults filled
    assert sorted({spec.seed for spec in cli.plan(args)}) == [3, 4, 5]


def test_seeds_auto_caps_the_second_stage_at_the_declared_cap_unless_max_seeds_is_given(tmp_path, monkeypatch):
    import dataclasses

    from ablations import cli
    from ablations.judge import planning

    ablation = dataclasses.replace(_pilot(tmp_path, [0.01, 0.02, 0.0])[0], max_seeds=7)  # stored runs to read
    monkeypatch.setattr(cli.run, "get_ablation", lambda name: ablation)
    monkeypatch.setattr(RunRecord, "is_done", property(lambda self: True))  # the pilot has finished
    caps = []
    monkeypatch.setattr(planning, "second_stage", lambda runs, abl, pilot, most: caps.append(most) or {})
    for extra in ([], ["--max-seeds", "4"]):
        args = cli.build_parser().parse_args(["run", ablation.name, "--preset", "smoke", "--data", "stdlib",
                                              "--seeds", "auto", "--results-dir", str(tmp_path), *extra])
        cli.check_flags(cli.FLAGS["run"], args)
        assert cli._second_stage(args, cli.plan(args)) == []
    assert caps == [7, 4]


@pytest.mark.parametrize("differences, says", [
    ([0.004, -0.006], "pilot: 2 of 3 pairs so far"),
    ([0.004, -0.006, 0.009], "pilot done; Stein's second stage asks for 10 pairs in all (cap 10"),  # 44: capped
    ([0.004, -0.006, 0.009, 0.001], "Stein's second stage: 4 of 10 pairs so far (cap 10"),
    ([0.004, -0.006, 0.009, 0.0, 0.001, 0.002, -0.001, 0.003, 0.0, 0.001], None),  # the second stage has run
])
def test_a_row_says_how_many_pairs_of_its_declared_plan_are_still_missing(tmp_path, differences, says):
    from ablations.judge.claims import judge

    ablation, runs = _pilot(tmp_path, differences, finished="2099-01-01")  # after the claim took its form: confirmatory
    (row,) = judge(runs, ablation).query("metric == 'final_val_loss' and not exploratory").itertuples()
    assert row.pairs == len(differences)
    assert (says in row.note) if says else ("pairs so far" not in row.note)
