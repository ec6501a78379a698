import json
import math
import pickle
import subprocess
import sys

import lightning as L
import pytest
import torch
from conftest import make_spec

from ablations.data import TokenDataModule
from ablations.recorder import read_metrics, thin_history
from ablations.report import write_report
from ablations.spec import Ablation, Expectation
from ablations.system import LanguageModelSystem, warmup_cosine
from ablations.train import count_loss_spikes, train
from models import total_params, training_flops_per_token

KILLER = """
import os, pickle, signal, sys
import lightning as L
from ablations.train import count_loss_spikes, train

class KillAt(L.Callback):
    def __init__(self, step):
        self.step = step
    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)

with open(sys.argv[1], "rb") as f:
    spec = pickle.load(f)
train(spec, extra_callbacks=[KillAt(int(sys.argv[2]))])
"""


def test_summary_records_what_the_issue_lists(corpus, tmp_path):
    spec = make_spec(corpus, tmp_path, grad_clip=1e-3)
    summary = train(spec)
    assert json.loads((spec.run_dir / "summary.json").read_text()) == summary
    assert summary["params"] == total_params(spec.model)
    assert summary["flops_per_token"] == training_flops_per_token(spec.model)
    assert summary["steps_done"] == 30 and summary["diverged"] is False and summary["diverged_at_step"] is None
    assert summary["corpus_sha256"] == corpus.sha256 and summary["torch_version"] == torch.__version__
    assert summary["final_val_loss"] < math.log(256)  # it learned something beyond uniform bytes
    for key in ("best_val_loss", "tokens_per_s", "step_time_s", "peak_memory_bytes", "wall_time_s", "device", "git_commit"):
        assert summary[key] is not None, key
    assert not (spec.run_dir / "checkpoints").exists()  # finished runs keep no checkpoint
    rows = read_metrics(spec.run_dir / "metrics.jsonl")
    train_rows = [r for r in rows if r["split"] == "train"]
    assert [r["step"] for r in train_rows] == list(range(1, 31))
    assert [r["step"] for r in rows if r["split"] == "val"] == [10, 20, 30]
    assert all(len(r["grad_norm_layer"]) == 2 for r in train_rows)
    assert len(summary["max_attn_logit"]) == 2 and all(math.isfinite(x) for x in summary["max_attn_logit"])
    assert summary["loss_spikes"] == 0 and math.isfinite(summary["mean_log_z"])
    # Global norm² is the sum of the per-layer norms² plus the embedding and final-norm parts.
    assert all(r["grad_norm"] ** 2 >= sum(g**2 for g in r["grad_norm_layer"]) for r in train_rows)
    assert min(r["grad_norm"] for r in train_rows) > 100 * spec.train.grad_clip  # logged before clipping
    assert train_rows[0]["lr"] == pytest.approx(spec.train.lr / spec.train.warmup_steps)
    history = read_metrics(spec.run_dir / "history.jsonl")  # 30 steps: nothing to thin
    assert history == sorted(rows, key=lambda r: (r["step"], r["split"]))
    assert train(spec) == summary  # a finished run is not trained again


def test_history_keeps_evals_and_step_one_and_averages_the_rest_in_windows():
    train_rows = [{"split": "train", "step": s, "loss": float(s), "grad_norm_layer": [s, 2.0 * s]} for s in range(1, 1002)]
    val_rows = [{"split": "val", "step": s, "loss": 0.5} for s in range(100, 1001, 100)]
    history = thin_history(train_rows + val_rows, points=100)
    assert [r for r in history if r["split"] == "val"] == val_rows
    kept = [r for r in history if r["split"] == "train"]
    assert kept[0] == train_rows[0] and len(kept) == 101  # steps 2..11 → 11, ..., 992..1001 → 1001
    assert kept[1] == {"split": "train", "step": 11, "loss": 6.5, "grad_norm_layer": [6.5, 13.0]}
    assert kept[-1]["step"] == 1001 and kept[-1]["loss"] == sum(range(992, 1002)) / 10


def test_sigkilled_run_resumes_with_same_data_order_and_no_lost_or_duplicated_steps(corpus, tmp_path):
    reference = train(make_spec(corpus, tmp_path / "whole", steps=40))
    spec = make_spec(corpus, tmp_path / "killed", steps=40)
    (tmp_path / "spec.pkl").write_bytes(pickle.dumps(spec))
    killed = subprocess.run([sys.executable, "-c", KILLER, str(tmp_path / "spec.pkl"), "27"], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (spec.run_dir / "checkpoints" / "last.ckpt").exists()
    assert max(r["step"] for r in read_metrics(spec.run_dir / "metrics.jsonl")) == 27  # rows past the checkpoint

    resumed = train(spec)
    assert resumed["resumed_from_step"] == 20  # the last checkpoint, written after the step-20 evaluation
    mine = read_metrics(spec.run_dir / "metrics.jsonl")
    theirs = read_metrics(tmp_path / "whole" / "runs" / "test" / spec.run_id / "metrics.jsonl")
    assert [(r["split"], r["step"]) for r in mine] == [(r["split"], r["step"]) for r in theirs]
    # Same weights, optimiser state and batches after the resume: the same losses, step for step.
    for a, b in zip(mine, theirs):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-6), (a["split"], a["step"])
    assert resumed["final_val_loss"] == pytest.approx(reference["final_val_loss"], rel=1e-5)


def test_non_finite_loss_stops_the_run_and_records_divergence(corpus, tmp_path):
    spec = make_spec(corpus, tmp_path, lr=1e30, variant="boom")
    summary = train(spec)
    assert summary["diverged"] is True
    rows = read_metrics(spec.run_dir / "metrics.jsonl")
    steps = [r["step"] for r in rows if r["split"] == "train"]
    assert summary["diverged_at_step"] == len(steps) + 1 < 30  # the first step whose loss was not finite
    assert all(math.isfinite(r["loss"]) and r["step"] <= len(steps) for r in rows)
    assert summary["final_val_loss"] is None

    # The report counts it, does not average it, and does not crash.
    train(make_spec(corpus, tmp_path, variant="fine"))
    ablation = Ablation(name="test", claim="c", source="s", base={}, variants={"fine": {}, "boom": {}}, baseline="fine",
                        treatment="boom", expectations=(Expectation(metric="final_val_loss", direction="not_higher"),))
    table = write_report(ablation, tmp_path)[0].read_text()
    assert "| boom | 1 | 1 | – |" in table and "Verdict on the claim: **contradicted**" in table


def test_paired_variants_start_from_the_same_weights_and_see_the_same_batches(corpus, tmp_path):
    # Norm type changes no parameter shape, so with one seed both variants start from identical matrices.
    systems = []
    for norm in ("layer", "rms"):
        spec = make_spec(corpus, tmp_path, norm=norm, norm_bias=False)
        L.seed_everything(3, verbose=False)
        systems.append(dict(LanguageModelSystem(spec.model, spec.train).named_parameters()))
    layer, rms = systems
    assert layer.keys() == rms.keys()
    for name in layer:
        torch.testing.assert_close(layer[name], rms[name])
    modules = [TokenDataModule(corpus, seed=3, steps=5, batch_size=4, context=32, eval_batches=2) for _ in range(2)]
    for (xa, ya), (xb, yb) in zip(*(m.train_dataloader() for m in modules), strict=True):
        torch.testing.assert_close((xa, ya), (xb, yb))


def test_z_loss_adds_alpha_log_z_squared_and_log_z_is_reported(corpus, tmp_path):
    spec = make_spec(corpus, tmp_path, z_loss=0.5)
    L.seed_everything(0, verbose=False)
    system = LanguageModelSystem(spec.model, spec.train)
    batch = next(iter(TokenDataModule(corpus, 0, 1, 4, 32, 1).train_dataloader()))
    logits = system.model(batch[0]).float()
    log_z = logits.logsumexp(-1)
    cross_entropy = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[1].flatten())
    total = system.training_step(batch, 0)
    torch.testing.assert_close(total, cross_entropy + 0.5 * log_z.square().mean())
    torch.testing.assert_close(system.step_stats["loss"], cross_entropy)
    torch.testing.assert_close(system.step_stats["log_z"], log_z.mean())


def test_loss_spikes_are_counted_against_the_rolling_mean():
    calm = [2.0 + 0.01 * (i % 3) for i in range(200)]
    assert count_loss_spikes(calm) == 0
    spiky = list(calm)
    spiky[120] = 3.0
    spiky[180] = 2.5
    assert count_loss_spikes(spiky) == 2


@pytest.mark.parametrize("step, expected", [(0, 0.1), (9, 1.0), (10, 1.0), (55, 0.55), (100, 0.1), (150, 0.1)])
def test_warmup_then_cosine_schedule(step, expected):
    assert warmup_cosine(step, warmup=10, total=100, min_ratio=0.1) == pytest.approx(expected)
