"""The Lightning "system": loss, optimiser, schedule and the metrics it logs around a plain model.

Per-step values stay on the device and are read on the host once per logging interval: one transfer
for every step since the last one, handed to Lightning's loggers step by step, so the record stays
complete without a host sync per step. Evaluation metrics go through `self.log_dict`.
"""

from __future__ import annotations

import itertools
import math
import time

import lightning as L
import torch
import torch.nn.functional as F
from torch.nn.utils import get_total_norm

from ablations.declare.train_config import TrainConfig
from models import ModelConfig, Transformer


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """LR multiplier: linear warm-up to 1, then cosine decay to min_ratio at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class StepClock:
    """Wall time of each optimiser step: CUDA events on a GPU (read later, no sync now), else the host clock."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self._start = None

    def _now(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def start(self) -> None:
        self._start = self._now()

    def stop(self) -> tuple:
        return self._start, self._now()

    def seconds(self, spans: list[tuple]) -> list[float]:
        if self.cuda:
            spans[-1][1].synchronize()
            return [start.elapsed_time(end) / 1e3 for start, end in spans]
        return [end - start for start, end in spans]


class LanguageModelSystem(L.LightningModule):
    def __init__(self, model_config: ModelConfig, train_config: TrainConfig, log_every: int = 50,
                 compile: bool = False, val_tokens_per_byte: float = 1.0) -> None:
        super().__init__()
        self.model_config, self.train_config, self.log_every = model_config, train_config, log_every
        self.val_tokens_per_byte = val_tokens_per_byte  # of the scored validation targets (batches.val_tokens_per_byte)
        self.model = Transformer(model_config)
        if compile:
            self.model.compile()  # in place: the state dict, and so the checkpoints, keep their keys
        self.diverged_at: int | None = None
        self.pending: list[dict] = []  # this interval's steps: device tensors until the next flush
        self.clock: StepClock | None = None
        self.resumed_from = 0

    def on_train_start(self) -> None:
        # Lightning has restored global_step from the checkpoint by now.
        self.resumed_from = self.global_step
        if self.resumed_from and self.trainer.is_global_zero:
            print(f"resumed at step {self.resumed_from}/{self.trainer.max_steps}", flush=True)

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor], **kwargs):
        """Cross-entropy (nats/token), the log-partition log Z of the output softmax (B, T), and, when
        asked, the per-layer largest attention logit."""
        inputs, targets = batch
        out = self.model(inputs, **kwargs)
        logits, *probe = out if isinstance(out, tuple) else (out,)
        logits = logits.float()  # (B, T, vocab)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten()), logits.logsumexp(-1), *probe

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, log_z = self.loss(batch)
        self.pending.append({"step": self.global_step + 1})
        self.record("loss", loss.detach())
        self.record("log_z", log_z.detach().mean())
        # z-loss (PaLM; Baichuan 2; OLMo 2): keeps log Z near 0 so the softmax stays well conditioned.
        return loss + self.model_config.z_loss * log_z.square().mean() if self.model_config.z_loss else loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Lightning calls this before clipping, so these are the raw gradient norms.
        per_layer = [get_total_norm([p.grad for p in block.parameters() if p.grad is not None]) for block in self.model.blocks]
        total = get_total_norm([p.grad for p in self.parameters() if p.grad is not None])
        self.record("grad_norm", total)
        self.record("grad_norm_layer", torch.stack(per_layer))
        self.record("lr", optimizer.param_groups[0]["lr"])

    def record(self, name: str, value: torch.Tensor | float) -> None:
        """One value of this step's row: a device scalar, a device vector (logged as name/0, name/1 …) or a host
        number. Device values wait for the next flush, which reads every one of them in a single transfer."""
        self.pending[-1][name] = value

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        if self.clock is None:
            self.clock = StepClock(self.device)
        self.clock.start()

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        self.pending[-1]["span"] = self.clock.stop()
        step = self.global_step
        if step % self.log_every == 0 or step % self.train_config.eval_every == 0 or step >= self.train_config.steps:
            self.flush()
        if step >= self.train_config.steps:  # Lightning validates when asked to stop: the last step is always evaluated
            self.trainer.should_stop = True

    def on_train_end(self) -> None:
        self.flush()

    def flush(self) -> None:
        """Read the interval's per-step values in one transfer and log one row per step. A non-finite loss
        ends the run there: its step is recorded as the divergence and no later row is written."""
        pending, self.pending = [e for e in self.pending if "span" in e], []
        if not pending or self.diverged_at is not None:
            return
        losses = self.trainer.strategy.reduce(torch.stack([e["loss"] for e in pending]), reduce_op="mean")  # DDP: whole batch
        for entry, loss in zip(pending, losses):
            entry["loss"] = loss
        on_device = [k for k, v in pending[0].items() if isinstance(v, torch.Tensor)]
        sizes = [pending[0][k].numel() for k in on_device]
        values = torch.stack([torch.cat([e[k].float().reshape(-1) for k in on_device]) for e in pending]).tolist()
        seconds = self.clock.seconds([e["span"] for e in pending])
        tokens = self.train_config.batch_size * self.model_config.context
        for entry, flat, step_time in zip(pending, values, seconds):
            row = {k: v for k, v in entry.items() if k not in ("step", "span") and k not in on_device}
            for name, size, at in zip(on_device, sizes, itertools.accumulate([0, *sizes])):
                part = flat[at:at + size]
                row.update({name: part[0]} if entry[name].dim() == 0 else {f"{name}/{i}": v for i, v in enumerate(part)})
            if not math.isfinite(row["loss"]):
                self.diverged_at = entry["step"]
                self.trainer.should_stop = True
                return
            row.update(step_time_s=step_time, tokens_per_s=tokens / step_time)
            for logger in self.loggers:
                logger.log_metrics({f"train/{k}": v for k, v in row.items()}, step=entry["step"])

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        if self.diverged_at is not None:  # Lightning validates once more when a run stops early
            return
        size = len(batch[0])
        if batch_idx == 0:  # the stability probe: output log Z and per-layer max attention logit, first batch only
            loss, log_z, max_logits = self.loss(batch, return_max_logits=True)
            probe = {"val/log_z": log_z.mean(), **{f"val/max_attn_logit/{i}": m for i, m in enumerate(max_logits)}}
            self.log_dict(probe, on_epoch=True, batch_size=size)
        else:
            loss, _ = self.loss(batch)
        # Every batch has as many targets, so the epoch mean of nats/token × the scored targets' tokens/byte is their
        # total nats over their total bytes. Under DDP each rank scores a share of the batches; sync_dist averages them.
        per_byte = loss * self.val_tokens_per_byte  # × 1.0 for bytes: the same number as nats/token, bit for bit
        self.log_dict({"val/loss": per_byte, "val/loss_per_token": loss, "val/bpb": per_byte / math.log(2)},
                      on_epoch=True, sync_dist=True, batch_size=size)
        # Lightning's loggers take a metric named "step" as the x-axis; without it they would get the count of
        # batches before this step's update, one less than the step our train rows carry.
        self.log("step", float(self.global_step), on_epoch=True, batch_size=size)

    def configure_optimizers(self):
        cfg = self.train_config
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
