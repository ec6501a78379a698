"""One run = one (ablation, variant, seed): train with Lightning, resume from the run's own
checkpoint, and write a summary whose presence marks the run finished."""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import statistics
import time
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import lightning as L
import submitit
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.environments import SLURMEnvironment

from ablations.data import TokenDataModule
from ablations.device import device_name
from ablations.recorder import RunRecorder, read_metrics, write_history
from ablations.run_spec import RunSpec
from ablations.snapshot import git_commit
from ablations.storage import exclusive, write_json
from ablations.system import LanguageModelSystem
from models import kv_cache_bytes, non_embedding_params, total_params, training_flops_per_token

TIMING_SKIP_FRACTION = 0.1  # steps excluded from speed medians: allocator and kernel warm-up
SPIKE_WINDOW, SPIKE_SIGMAS = 50, 6.0  # a spike: loss above the mean of the previous 50 steps by 6 std


def count_loss_spikes(losses: list[float], window: int = SPIKE_WINDOW, sigmas: float = SPIKE_SIGMAS) -> int:
    """Steps whose loss exceeds the rolling mean of the previous `window` steps by `sigmas` standard
    deviations, in the spirit of OLMo-core's stability monitor."""
    spikes = 0
    for i in range(window, len(losses)):
        previous = losses[i - window : i]
        mean = statistics.fmean(previous)
        if losses[i] > mean + sigmas * statistics.pstdev(previous, mean):
            spikes += 1
    return spikes


def _peak_memory(device: torch.device) -> tuple[int, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device), "cuda_max_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "process_max_rss"


def summarise(spec: RunSpec, system: LanguageModelSystem, recorder: RunRecorder, wall_time: float) -> dict:
    rows = read_metrics(spec.run_dir / "metrics.jsonl")
    train = [r for r in rows if r["split"] == "train"]
    val = [r for r in rows if r["split"] == "val"]
    timed = [r for r in train if r["step"] > TIMING_SKIP_FRACTION * spec.train.steps] or train
    peak, peak_kind = _peak_memory(system.device)
    return {
        **spec.describe(),
        "params": total_params(spec.model),
        "non_embedding_params": non_embedding_params(spec.model),
        "flops_per_token": training_flops_per_token(spec.model),
        "kv_cache_bytes_at_context": kv_cache_bytes(spec.model, spec.model.context),  # bf16, one sequence
        "steps_done": train[-1]["step"] if train else 0,
        "final_val_loss": val[-1]["loss"] if val and system.diverged_at is None else None,
        "best_val_loss": min(r["loss"] for r in val) if val else None,
        "final_train_loss": train[-1]["loss"] if train else None,
        "loss_spikes": count_loss_spikes([r["loss"] for r in train]),
        "mean_log_z": statistics.fmean(r["log_z"] for r in timed) if timed else None,  # last 90% of steps
        "max_attn_logit": val[-1].get("max_attn_logit") if val else None,  # per layer, at the last evaluation
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in timed) if timed else None,
        "step_time_s": statistics.median(r["step_time_s"] for r in timed) if timed else None,
        "concurrency": spec.concurrency,
        "peak_memory_bytes": peak,
        "peak_memory_kind": peak_kind,
        "train_time_s": sum(r["step_time_s"] for r in train),  # every attempt, each step counted once
        "wall_time_s": wall_time,  # this attempt, start-up included
        "resumed_from_step": recorder.resumed_from,
        "diverged": system.diverged_at is not None,
        "diverged_at_step": system.diverged_at,
        "device": device_name(system.device),
        "torch_version": torch.__version__,
        "git_commit": git_commit(),
        "code_dir": str(Path(__file__).resolve().parents[1]),  # a snapshot's path for queued cluster runs
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _cluster_layout() -> dict:
    """Under SLURM: one process per task, Lightning's DDP reading the layout from the SLURM
    environment, and submitit alone owning requeueing (Lightning's own would also react to USR1)."""
    if not SLURMEnvironment.detect():
        return {"devices": 1}
    tasks, nodes = int(os.environ.get("SLURM_NTASKS_PER_NODE", "1")), int(os.environ.get("SLURM_NNODES", "1"))
    layout = {"devices": tasks, "num_nodes": nodes, "plugins": [SLURMEnvironment(auto_requeue=False)]}
    if tasks * nodes > 1:
        layout["strategy"] = "ddp"
    return layout


def train(spec: RunSpec, extra_callbacks: Sequence[L.Callback] = ()) -> dict:
    """Run (or resume, or skip) one run and return its summary."""
    if int(os.environ.get("SLURM_PROCID", "0")) > 0:  # a DDP peer: rank 0 keeps the files
        _fit(spec, extra_callbacks)
        return {}
    with exclusive(spec.run_dir):
        summary_path = spec.run_dir / "summary.json"
        if not summary_path.exists():
            summary = _fit(spec, extra_callbacks)
            write_history(spec.run_dir)
            write_json(summary_path, summary)  # last: a summary marks a finished run
            shutil.rmtree(spec.run_dir / "checkpoints", ignore_errors=True)  # only unfinished runs keep one
        return json.loads(summary_path.read_text())


def _fit(spec: RunSpec, extra_callbacks: Sequence[L.Callback]) -> dict:
    started = time.perf_counter()
    run_dir = spec.run_dir
    write_json(run_dir / "config.json", spec.describe())
    checkpoint = run_dir / "checkpoints" / "last.ckpt"

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # keep job logs to our progress lines
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # Lightning vs newer torch, harmless
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists")  # resuming is the point
    warnings.filterwarnings("ignore", message="`training_step` returned `None`")  # how a diverged run stops
    L.seed_everything(spec.seed, verbose=False)  # same seed, same init wherever the variants' shapes agree
    system = LanguageModelSystem(spec.model, spec.train)
    data = TokenDataModule(
        spec.corpus, spec.seed, spec.train.steps, spec.train.batch_size, spec.model.context, spec.train.eval_batches
    )
    recorder = RunRecorder(run_dir / "metrics.jsonl", spec.train.batch_size * spec.model.context)
    # Saved after each evaluation, so the checkpoint always includes that evaluation's row.
    saver = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="last", save_top_k=1, enable_version_counter=False)
    trainer = L.Trainer(
        **_cluster_layout(),
        max_steps=spec.train.steps,
        val_check_interval=spec.train.eval_every,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        gradient_clip_val=spec.train.grad_clip,
        precision="bf16-mixed" if torch.cuda.is_available() else "32-true",
        logger=False,
        callbacks=[recorder, saver, *extra_callbacks],
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=run_dir,
    )
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(system, datamodule=data, ckpt_path=checkpoint if checkpoint.exists() else None, weights_only=True)
    return summarise(spec, system, recorder, time.perf_counter() - started)


class TrainJob(submitit.helpers.Checkpointable):
    """The callable submitit pickles: every call resumes from the run's own checkpoint on disk."""

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec

    def __call__(self) -> dict:
        return train(self.spec)
