"""The Lightning "system": loss, optimiser, schedule and gradient statistics around a plain model."""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F
from torch.nn.utils import get_total_norm

from ablations.spec import TrainConfig
from models import ModelConfig, Transformer


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """LR multiplier: linear warm-up to 1, then cosine decay to min_ratio at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class LanguageModelSystem(L.LightningModule):
    def __init__(self, model_config: ModelConfig, train_config: TrainConfig) -> None:
        super().__init__()
        self.model_config, self.train_config = model_config, train_config
        self.model = Transformer(model_config)
        self.diverged_at: int | None = None
        self.step_stats: dict[str, object] = {}  # read by RunRecorder after each step
        self.val_losses: list[torch.Tensor] = []
        self.val_probe: dict[str, object] = {}  # output log Z and per-layer max attention logit

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy (nats/token) and the mean log-partition log Z of the output softmax."""
        inputs, targets = batch
        logits = self.model(inputs).float()  # (B, T, vocab)
        log_z = logits.logsumexp(-1)  # (B, T)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten()), log_z

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        loss, log_z = self.loss(batch)
        if not torch.isfinite(loss):
            # Returning None skips backward and the optimiser step; the run ends here, recorded as diverged.
            self.diverged_at = self.global_step + 1
            self.trainer.should_stop = True
            return None
        self.step_stats = {"loss": loss.detach(), "log_z": log_z.detach().mean()}
        # z-loss (PaLM; Baichuan 2; OLMo 2): keeps log Z near 0 so the softmax stays well conditioned.
        return loss + self.model_config.z_loss * log_z.square().mean() if self.model_config.z_loss else loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Lightning calls this before clipping, so these are the raw gradient norms.
        per_layer = [get_total_norm([p.grad for p in block.parameters() if p.grad is not None]) for block in self.model.blocks]
        total = get_total_norm([p.grad for p in self.parameters() if p.grad is not None])
        self.step_stats.update(grad_norm=total, grad_norm_layer=torch.stack(per_layer), lr=optimizer.param_groups[0]["lr"])

    def on_validation_epoch_start(self) -> None:
        self.val_losses = []

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        attentions = [block.attn for block in self.model.blocks]
        for attn in attentions:
            attn.probe = batch_idx == 0  # stability probe on the first validation batch only
        loss, log_z = self.loss(batch)
        self.val_losses.append(loss)
        if batch_idx == 0:
            self.val_probe = {"log_z": log_z.mean().item(), "max_attn_logit": [attn.max_logit for attn in attentions]}
            for attn in attentions:
                attn.probe = False

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
