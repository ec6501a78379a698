"""Optimisation and budget: how a run trains, whatever the architecture."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Part of a run's identity, like the model config: its fields are hashed into the run id."""

    steps: int
    batch_size: int
    lr: float = 1e-3
    min_lr_ratio: float = 0.1  # cosine decays to lr·min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 0.1  # matrices only; norms, biases and gains are not decayed
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    # Also the checkpoint interval: a killed run loses at most this many steps. The last step is evaluated (and
    # checkpointed) too, whether or not eval_every divides steps: equal-compute runs stop at any step.
    eval_every: int = 100
    eval_batches: int = 20

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "eval_batches"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} must be a positive integer")
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"TrainConfig.warmup_steps={self.warmup_steps} must lie in [0, steps={self.steps})")

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig))
