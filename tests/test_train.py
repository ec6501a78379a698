import json
import math
import pickle
import subprocess
import sys

import pytest
import torch
from conftest import make_spec

from ablations.data.corpus import VAL_FRACTION
from ablations.declare.spec import Ablation, Claim
from ablations.jobs.executors import run_state
from ablations.reporting.report import write_report
from ablations.runs.run_record import RunRecord
from ablations.training.train import train
from models import total_params, training_flops_per_token

KILLER = """
import os, pickle, signal, sys
import lightning as L
from ablations.training.train import train

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
    rows = spec.record.read_rows()
    train_rows = [r for r in rows if r["split"] == "train"]
    assert [r["step"] for r in train_rows] == list(range(1, 31))
    assert [r["step"] for r in rows if r["split"] == "val"] == [10, 20, 30]
    # Bytes: a validation loss per byte is its loss per token, bit for bit, as before the exact per-byte rule.
    assert all(r["loss"] == r["loss_per_token"] for r in rows if r["split"] == "val")
    assert summary["val_tokens_per_byte"] == 1.0 and summary["final_val_loss"] == rows[-1]["loss_per_token"]
    assert all(len(r["grad_norm_layer"]) == 2 for r in train_rows)
    assert len(summary["max_attn_logit"]) == 2 and all(math.isfinite(x) for x in summary["max_attn_logit"])
    assert summary["loss_spikes"] == 0 and math.isfinite(summary["mean_log_z"])
    # Passes over the training split: the tokens its batches read over the tokens before the validation tenth.
    seen = 30 * spec.train.batch_size * spec.model.context
    assert summary["tokens_seen"] == seen
    assert summary["train_passes"] == pytest.approx(seen / int(corpus.n_tokens * (1 - VAL_FRACTION)), rel=1e-12)
    # Global norm² is the sum of the per-layer norms² plus the embedding and final-norm parts.
    assert all(r["grad_norm"] ** 2 >= sum(g**2 for g in r["grad_norm_layer"]) for r in train_rows)
    assert min(r["grad_norm"] for r in train_rows) > 100 * spec.train.grad_clip  # logged before clipping
    assert train_rows[0]["lr"] == pytest.approx(spec.train.lr / spec.train.warmup_steps)
    history = spec.record.read_history()  # 30 steps: nothing to thin
    assert history == sorted(rows, key=lambda r: (r["step"], r["split"]))
    assert train(spec) == summary  # a finished run is not trained again


def test_sigkilled_run_resumes_with_same_data_order_and_no_lost_or_duplicated_steps(corpus, tmp_path):
    reference = train(make_spec(corpus, tmp_path / "whole", steps=40))
    spec = make_spec(corpus, tmp_path / "killed", steps=40, log_every=4)
    (tmp_path / "spec.pkl").write_bytes(pickle.dumps(spec))
    killed = subprocess.run([sys.executable, "-c", KILLER, str(tmp_path / "spec.pkl"), "27"], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (spec.run_dir / "checkpoints" / "last.ckpt").exists()
    # Rows reach the disk every 4 steps: those of steps 21-24 lie past the checkpoint and are rewritten on resume.
    assert max(r["step"] for r in spec.record.read_rows()) == 24

    resumed = train(spec)
    assert resumed["resumed_from_step"] == 20  # the last checkpoint, written after the step-20 evaluation
    mine = spec.record.read_rows()
    theirs = RunRecord.at(tmp_path / "whole", "test", spec.run_id).read_rows()
    assert [(r["split"], r["step"]) for r in mine] == [(r["split"], r["step"]) for r in theirs]
    # Same weights, optimiser state and batches after the resume: the same losses, step for step.
    for a, b in zip(mine, theirs):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-6), (a["split"], a["step"])
    assert resumed["final_val_loss"] == pytest.approx(reference["final_val_loss"], rel=1e-5)


def test_non_finite_loss_stops_the_run_and_records_divergence(corpus, tmp_path):
    spec = make_spec(corpus, tmp_path, lr=1e30, variant="boom")
    summary = train(spec)
    assert summary["diverged"] is True
    rows = spec.record.read_rows()
    steps = [r["step"] for r in rows if r["split"] == "train"]
    assert summary["diverged_at_step"] == len(steps) + 1 < 30  # the first step whose loss was not finite
    assert all(math.isfinite(r["loss"]) and r["step"] <= len(steps) for r in rows)
    assert summary["final_val_loss"] is None

    # The report counts it, does not average it, and does not crash.
    train(make_spec(corpus, tmp_path, variant="fine"))
    claim = Claim(says="boom matches fine", treatment="boom", baseline="fine", metric="final_val_loss",
                  direction="not_higher", margin=0.01, target=0.01, why="w")
    ablation = Ablation(name="test", headline="h", source="s", base={}, variants={"fine": {}, "boom": {}}, baseline="fine",
                        claims=(claim,))
    table = write_report(ablation, tmp_path)[0].read_text()
    assert "| boom | 1 | 1 | 0 | – |" in table  # in its own LR's group: counted, not averaged


def test_a_run_whose_steps_eval_every_does_not_divide_evaluates_and_records_its_last_step(corpus, tmp_path):
    """Equal-compute runs stop at any step: evaluation every eval_every steps and at the last one."""
    spec = make_spec(corpus, tmp_path, steps=25, eval_every=10)
    summary = train(spec)
    rows = spec.record.read_rows()
    val = [r for r in rows if r["split"] == "val"]
    assert [r["step"] for r in val] == [10, 20, 25]
    assert [r["step"] for r in rows if r["split"] == "train"] == list(range(1, 26))
    assert summary["steps_done"] == 25 and summary["final_val_loss"] == val[-1]["loss"]
    assert summary["best_val_loss"] == min(r["loss"] for r in val)
    assert [r["step"] for r in spec.record.read_history() if r["split"] == "val"] == [10, 20, 25]


@pytest.mark.parametrize("steps", [20, 25])  # the last checkpoint at a multiple of eval_every, and not
def test_a_run_stopped_after_its_last_checkpoint_records_that_it_resumed_from_there(corpus, tmp_path, monkeypatch, steps):
    spec = make_spec(corpus, tmp_path, steps=steps, eval_every=10)

    def stopped(record):  # stopped between the final checkpoint and the summary
        raise KeyboardInterrupt

    monkeypatch.setattr(RunRecord, "write_history", stopped)
    with pytest.raises(KeyboardInterrupt):
        train(spec)
    monkeypatch.undo()
    assert spec.record.checkpoint.exists() and not spec.record.is_done
    summary = train(spec)
    assert summary["resumed_from_step"] == steps and summary["first_step_excess_s"] is None
    assert [r["step"] for r in spec.record.read_rows() if r["split"] == "train"] == list(range(1, steps + 1))
    assert [r["step"] for r in spec.record.read_rows() if r["split"] == "val"] == [10, 20, 25][: 2 + (steps == 25)]


def test_a_checkpoint_cut_short_is_dropped_and_the_run_starts_over(corpus, tmp_path, capsys):
    spec = make_spec(corpus, tmp_path, steps=10, eval_every=10)
    spec.record.checkpoint_dir.mkdir(parents=True)
    spec.record.checkpoint.write_bytes(b"PK\x03\x04" + b"\0" * 100)  # what a full disk left of a save
    assert run_state(spec.record) == "damaged"
    summary = train(spec)
    assert summary["resumed_from_step"] == 0 and summary["steps_done"] == 10
    assert "is cut short: starting the run over" in capsys.readouterr().out
