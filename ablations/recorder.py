"""Per-step and per-eval metrics, appended to one JSONL file per run, consistent with the checkpoint."""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path

import lightning as L
import torch

from ablations.storage import atomic_write
from ablations.system import LanguageModelSystem

HISTORY_POINTS = 200  # train rows per run in history.jsonl: ~70 kB, small enough to commit


def read_metrics(path: Path) -> list[dict]:
    """Rows of a metrics file; a line cut short by a kill is dropped."""
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def _window_mean(rows: list[dict]) -> dict:
    """One row standing for a window of train rows: the mean of each number (list entries element-wise),
    stamped with the window's last step."""
    out = dict(rows[-1])
    for key, value in out.items():
        if key == "step":
            continue
        if isinstance(value, list):
            out[key] = [statistics.fmean(column) for column in zip(*(r[key] for r in rows))]
        elif isinstance(value, float):
            out[key] = statistics.fmean(r[key] for r in rows)
    return out


def thin_history(rows: list[dict], points: int = HISTORY_POINTS) -> list[dict]:
    """The committed history of a run: every val row, step 1's train row untouched (the gradient norms at
    initialisation) and the other train rows averaged in windows, about `points` of them. Averaging rather
    than sampling keeps the curves honest; loss spikes are counted on the full record in the summary."""
    train = [r for r in rows if r["split"] == "train"]
    stride = max(1, len(train) // points)
    kept = train[:1] + [_window_mean(train[i:i + stride]) for i in range(1, len(train), stride)]
    return sorted(kept + [r for r in rows if r["split"] != "train"], key=lambda r: (r["step"], r["split"]))


def write_history(run_dir: Path) -> None:
    rows = thin_history(read_metrics(run_dir / "metrics.jsonl"))
    atomic_write(run_dir / "history.jsonl", "".join(json.dumps(row) + "\n" for row in rows).encode())


class RunRecorder(L.Callback):
    """Writes a `train` row after every optimiser step and a `val` row after every evaluation.

    Rows carry the global step *after* the update they describe. On (re)start the file is cut
    back to the restored step, so a run killed between checkpoints has no lost or duplicated steps.
    """

    def __init__(self, path: Path, tokens_per_step: int) -> None:
        self.path, self.tokens_per_step = path, tokens_per_step
        self.resumed_from = 0
        self._file = None
        self._started = 0.0
        self._recent: list[dict] = []  # train rows since the last evaluation, for the progress line

    def _sync(self, pl_module: L.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning has restored global_step from the checkpoint by now.
        self.resumed_from = trainer.global_step
        if not trainer.is_global_zero:  # under DDP one process keeps the record
            return
        kept = [row for row in read_metrics(self.path) if row["step"] <= self.resumed_from]
        atomic_write(self.path, "".join(json.dumps(row) + "\n" for row in kept).encode())
        self._file = self.path.open("a")
        if self.resumed_from:
            print(f"resumed at step {self.resumed_from}/{trainer.max_steps}", flush=True)

    def _write(self, row: dict) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._sync(pl_module)
        self._started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module: LanguageModelSystem, outputs, batch, batch_idx) -> None:
        if pl_module.diverged_at is not None:
            return
        self._sync(pl_module)
        step_time = time.perf_counter() - self._started
        stats = pl_module.step_stats
        row = {
            "split": "train",
            "step": trainer.global_step,
            "loss": trainer.strategy.reduce(stats["loss"], reduce_op="mean").item(),  # whole batch under DDP
            "log_z": stats["log_z"].item(),
            "lr": stats["lr"],
            "grad_norm": stats["grad_norm"].item(),
            "grad_norm_layer": stats["grad_norm_layer"].tolist(),
            "step_time_s": step_time,
            "tokens_per_s": self.tokens_per_step / step_time,
        }
        self._write(row)
        self._recent.append(row)

    def on_validation_epoch_end(self, trainer, pl_module: LanguageModelSystem) -> None:
        if pl_module.diverged_at is not None:  # Lightning validates once more when a run stops early
            return
        # Under DDP each rank scores a share of the validation batches.
        loss = trainer.strategy.reduce(torch.stack(pl_module.val_losses).mean(), reduce_op="mean").item()
        # Byte-level tokens: nats per token are nats per byte.
        self._write({"split": "val", "step": trainer.global_step, "loss": loss, "bpb": loss / math.log(2), **pl_module.val_probe})
        if self._recent:
            train_loss = statistics.mean(r["loss"] for r in self._recent)
            speed = statistics.median(r["tokens_per_s"] for r in self._recent)
            print(
                f"step {trainer.global_step}/{trainer.max_steps} · train loss {train_loss:.3f} · "
                f"val loss {loss:.3f} · {speed / 1e3:.1f}k tok/s",
                flush=True,
            )
        self._recent = []

    def on_train_end(self, trainer, pl_module) -> None:
        if self._file is not None:
            self._file.close()
