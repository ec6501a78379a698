"""One run = one (ablation, variant, seed): train with Lightning, resume from the run's own
checkpoint, and write a summary whose presence marks the run finished."""

from __future__ import annotations

import logging
import os
import resource
import signal
import statistics
import threading
import time
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import lightning as L
import submitit
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins import TorchCheckpointIO
from lightning.pytorch.plugins.environments import SLURMEnvironment

from ablations.data.batches import TokenDataModule, val_tokens_per_byte
from ablations.data.corpus import tokens_per_byte, unigram_val_loss
from ablations.data.storage import StorageFault, storage_fault
from ablations.declare.metrics import METRICS, RunRows, summary_values
from ablations.runs.run_record import AlreadyTraining
from ablations.runs.run_spec import RunSpec
from ablations.runs.snapshot import git_commit
from ablations.training.device import device_name, peak_flops
from ablations.training.extrapolation import long_context_losses
from ablations.training.run_logger import RunRecordLogger, finish, tensorboard_logger, wandb_logger
from ablations.training.system import LanguageModelSystem
from models import training_flops_per_token

ALREADY_RUNNING = "already running"  # a job's result when another process holds the run
FINISHED_ELSEWHERE = "finished elsewhere"  # ... or finished it between this job's planning and its start


def _peak_memory(device: torch.device) -> tuple[int, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device), "cuda_max_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "process_max_rss"


def _mfu(rows: RunRows, spec: RunSpec, device: torch.device) -> float | None:
    """Share of the device's dense bf16 peak the run's median training step used; None without a known peak."""
    peak, tokens_per_s = peak_flops(device_name(device)), METRICS["tokens_per_s"].from_rows(rows)
    return None if peak is None or tokens_per_s is None else training_flops_per_token(spec.model) * tokens_per_s / peak


def take_threads(spec: RunSpec) -> int:
    """Set the job's torch threads before it computes anything: its share of a local machine, else its SLURM
    allocation's CPUs, else torch's default. Oversubscribed cores slow a small step 4-25x and distort its timings."""
    threads = spec.threads or int(os.environ.get("SLURM_CPUS_PER_TASK", "0"))
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def summarise(spec: RunSpec, system: LanguageModelSystem, wall_time: float, resumed_from: int) -> dict:
    """The run's description, every registered metric, and how and where it was measured."""
    rows = RunRows.of(spec.record.read_rows(), spec.train.steps, system.diverged_at is not None,
                      tokens_per_byte(spec.corpus, "train"))
    peak, peak_kind = _peak_memory(system.device)
    extrapolated = long_context_losses(system.model, spec.corpus, spec.model, spec.train, rows.diverged)
    return {
        **spec.describe(),
        **summary_values(rows, spec.model, measured={"peak_memory_bytes": peak, "mfu": _mfu(rows, spec, system.device),
                                                     "train_passes": spec.passes, **extrapolated}),
        "tokens_seen": spec.train.steps * spec.train.batch_size * spec.model.context,
        **{name: value for name, value in extrapolated.items() if name not in METRICS},  # the loss-by-position curves
        "steps_done": rows.train[-1]["step"] if rows.train else 0,
        "unigram_val_loss": unigram_val_loss(spec.corpus, spec.model.vocab_size),  # the level of "did not train"
        "val_tokens_per_byte": system.val_tokens_per_byte,  # of the scored validation targets: 1 for bytes
        "concurrency": spec.concurrency,
        "torch_threads": torch.get_num_threads(),  # intra-op threads this attempt trained with
        "peak_memory_kind": peak_kind,
        "train_time_s": sum(r["step_time_s"] for r in rows.train),  # every attempt, each step counted once
        # The first step of an attempt carries the compilation (and allocator warm-up): its excess over a typical step.
        "first_step_excess_s": rows.train[0]["step_time_s"] - statistics.median(r["step_time_s"] for r in rows.timed)
        if rows.train and resumed_from == 0 else None,
        "wall_time_s": wall_time,  # this attempt, start-up included
        "resumed_from_step": resumed_from,
        "diverged": system.diverged_at is not None,
        "diverged_at_step": system.diverged_at,
        "device": device_name(system.device),
        "torch_version": torch.__version__,
        "git_commit": git_commit(),
        "code_dir": str(Path(__file__).resolve().parents[2]),  # a snapshot's path for queued cluster runs
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
    record = spec.record
    with record.exclusive():
        if not record.is_done:
            summary = _fit(spec, extra_callbacks)
            record.write_history()
            record.write_summary(summary)
            record.drop_checkpoint()
        return record.read_summary()


def _checkpoint_step(record) -> int | None:
    """The step the run's checkpoint was saved at (mmap reads it without loading the weights); None without one. A
    checkpoint cut short (by a full disk, before saves were atomic) is dropped: the run starts over."""
    if record.checkpoint_damaged():
        print(f"the checkpoint {record.checkpoint} is cut short: starting the run over", flush=True)
        record.drop_checkpoint()
    if not record.checkpoint.exists():
        return None
    return torch.load(record.checkpoint, map_location="cpu", mmap=True, weights_only=True)["global_step"]


def _fit(spec: RunSpec, extra_callbacks: Sequence[L.Callback]) -> dict:
    started = time.perf_counter()
    record = spec.record
    record.register(spec.describe())
    resume_step = _checkpoint_step(record)

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # keep job logs to our progress lines
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # Lightning vs newer torch, harmless
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists")  # resuming is the point
    warnings.filterwarnings("ignore", message="The `srun` command is available")  # submitit starts the tasks, not srun
    L.seed_everything(spec.seed, verbose=False)  # same seed, same init wherever the variants' shapes agree
    per_byte = val_tokens_per_byte(spec.corpus, spec.train.eval_batches, spec.train.batch_size, spec.model.context)
    system = LanguageModelSystem(spec.model, spec.train, log_every=spec.log_every, compile=spec.compile,
                                 val_tokens_per_byte=per_byte)
    data = TokenDataModule(
        spec.corpus, spec.seed, spec.train.steps, spec.train.batch_size, spec.model.context, spec.train.eval_batches
    )
    label = f"{spec.variant}_seed{spec.seed}_lr{spec.train.lr:g}"
    loggers = [RunRecordLogger(record, spec.train.steps),
               tensorboard_logger(record, label, purge_step=None if resume_step is None else resume_step + 1),
               *([wandb_logger(spec, label)] if spec.wandb else [])]
    # Saved after each evaluation, so the checkpoint always includes that evaluation's row.
    saver = ModelCheckpoint(dirpath=record.checkpoint_dir, filename=record.checkpoint.stem, save_top_k=1,
                            enable_version_counter=False)
    layout = _cluster_layout()
    layout["plugins"] = [*layout.get("plugins", []), AtomicCheckpointIO()]
    trainer = L.Trainer(
        **layout,
        max_steps=spec.train.steps,
        val_check_interval=spec.train.eval_every,  # and at the last step, multiple or not (the system's stop)
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        gradient_clip_val=spec.train.grad_clip,
        precision="bf16-mixed" if torch.cuda.is_available() else "32-true",
        logger=loggers,
        log_every_n_steps=spec.log_every,
        callbacks=[saver, *extra_callbacks],
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=record.dir,
    )
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        trainer.fit(system, datamodule=data, ckpt_path=record.checkpoint if resume_step is not None else None,
                    weights_only=True)
    finally:
        finish(loggers)
    # A checkpoint at the last step trains nothing, so the system never sees a start: the checkpoint says where.
    return summarise(spec, system, time.perf_counter() - started, system.resumed_from or resume_step or 0)


def stop_with(parent: int, poll_s: float = 2.0) -> None:
    """Kill this process once the CLI that started it is gone (even by SIGKILL) instead of training on as an orphan;
    the checkpoint is the run's state, so there is nothing to tidy. A thread: the main one is busy training."""
    def watch() -> None:
        while True:
            try:
                os.kill(parent, 0)
            except (ProcessLookupError, PermissionError):  # gone, or its pid reused by someone else
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(poll_s)

    threading.Thread(target=watch, daemon=True, name="stop-with-cli").start()


class AtomicCheckpointIO(TorchCheckpointIO):
    """Save to a temporary file, then rename: a disk that fills mid-save leaves the previous checkpoint whole."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        path = Path(path)
        partial = path.with_name(f".{path.name}.partial")
        try:
            super().save_checkpoint(checkpoint, partial, storage_options)
            os.replace(partial, path)
        except OSError:
            partial.unlink(missing_ok=True)
            raise


class TrainJob(submitit.helpers.Checkpointable):
    """The callable submitit pickles: every call resumes from the run's own checkpoint on disk. `stop_with`: the pid
    of the local CLI that started it; the job ends with that process."""

    def __init__(self, spec: RunSpec, stop_with: int | None = None) -> None:
        self.spec, self.stop_with = spec, stop_with

    def __call__(self) -> dict | str:
        if self.stop_with is not None:
            stop_with(self.stop_with)
        take_threads(self.spec)
        if self.spec.record.is_done:  # jobs are planned for unfinished runs only: another process got there first
            return FINISHED_ELSEWHERE
        try:
            return train(self.spec)
        except AlreadyTraining:
            return ALREADY_RUNNING
        except OSError as error:
            if (line := storage_fault(error, self.spec.run_dir, self.spec.disk_bytes)) is None:
                raise
            raise StorageFault(line) from None
