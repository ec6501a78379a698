import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ablations.bench.speed import measure, write_speed
from ablations.catalogue import get_ablation
from ablations.declare.presets import get_preset
from ablations.declare.spec import Claim
from ablations.judge.speed_verdicts import judge_speed, load_speed

FASTER = Claim(says="t is faster", treatment="t", baseline="b", metric="step_time_s", direction="lower", target=0.05,
               why="w")


def _benchmark(ratios, device="cpu: test, 2 threads", compiled=True):
    rounds = range(len(ratios))
    rows = [dict(round=r, variant="b", step_time_s=0.1 * (1 + 0.3 * math.sin(r))) for r in rounds]
    rows += [dict(round=r, variant="t", step_time_s=0.1 * (1 + 0.3 * math.sin(r)) * q) for r, q in zip(rounds, ratios)]
    return pd.DataFrame(rows).assign(preset="tiny", device=device, threads=2, compiled=compiled)


def test_the_effect_is_the_geometric_mean_ratio_of_paired_rounds_minus_one():
    """Machine drift (the sine) cancels in each round's ratio; the CI is the paired t interval of the log ratios."""
    ratios = np.exp(np.random.default_rng(0).normal(np.log(0.9), 0.02, 40))
    (row,) = (v.row() for v in judge_speed(FASTER, _benchmark(ratios)))
    assert row["diff_mean"] == pytest.approx(math.exp(np.log(ratios).mean()) - 1)
    half = 2.0227 * np.log(ratios).std(ddof=1) / math.sqrt(40)  # t(0.975, 39)
    assert row["diff_low"] == pytest.approx(math.expm1(np.log(ratios).mean() - half), rel=1e-3)
    assert row["verdict"] == "reproduced" and row["pairs"] == 40 and "cpu: test, 2 threads" in row["note"]
    (slower,) = (v.row() for v in judge_speed(FASTER, _benchmark(1 / ratios)))
    assert slower["verdict"] == "contradicted"
    tokens = Claim(says="t is faster", treatment="t", baseline="b", metric="tokens_per_s", direction="higher", target=0.05,
                   why="w")
    (inverse,) = (v.row() for v in judge_speed(tokens, _benchmark(ratios)))
    assert inverse["diff_mean"] == pytest.approx(math.exp(-np.log(ratios).mean()) - 1) and inverse["verdict"] == "reproduced"


def test_an_eager_cpu_benchmark_is_shown_and_not_judged():
    """Eager CPU kernels measure PyTorch's kernel coverage (a composite RMSNorm backward), not the architecture."""
    ratios = np.exp(np.random.default_rng(0).normal(np.log(0.9), 0.02, 40))
    (row,) = (v.row() for v in judge_speed(FASTER, _benchmark(ratios, compiled=False)))
    assert row["verdict"] == "not scored" and "eager CPU kernels" in row["note"] and row["pairs"] == 40
    (gpu,) = (v.row() for v in judge_speed(FASTER, _benchmark(ratios, device="cuda: H200", compiled=False)))
    assert gpu["verdict"] == "reproduced"  # a GPU's eager kernels are fused: judged


def test_a_speed_claim_without_a_benchmark_says_how_to_measure_it():
    (row,) = (v.row() for v in judge_speed(FASTER, None))
    assert row["verdict"] == "not measured" and "ablate speed" in row["note"]


def test_measure_times_every_variant_every_round_in_turn_on_one_batch(tmp_path):
    ablation, smoke = get_ablation("rmsnorm_vs_layernorm"), get_preset("smoke")
    frame = measure(ablation, smoke, ["layernorm", "rmsnorm"], rounds=4, warmup=1)
    assert list(frame["variant"]) == ["layernorm", "rmsnorm", "rmsnorm", "layernorm"] * 2  # order reversed every round
    assert (frame["step_time_s"] > 0).all() and list(frame["round"]) == [0, 0, 1, 1, 2, 2, 3, 3]
    paths = write_speed(ablation, smoke, ["layernorm", "rmsnorm"], tmp_path, "cpu", 4, 1, False, "cpu: here, 2 threads", 2)
    assert paths[1].name == "speed-smoke-cpu-here-2-threads.csv" and "| rmsnorm |" in paths[0].read_text()
    assert len(load_speed(tmp_path)) == 8


def test_judging_speed_imports_no_torch():
    code = "import sys, ablations.judge.speed_verdicts; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
