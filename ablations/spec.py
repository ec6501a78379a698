"""What an ablation declares, and the presets that size it. Adding an ablation never touches the trainer."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from models import ModelConfig


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Optimisation and budget. Part of a run's identity, like the model config."""

    steps: int
    batch_size: int
    lr: float = 1e-3
    min_lr_ratio: float = 0.1  # cosine decays to lr·min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 0.1  # matrices only; norms, biases and gains are not decayed
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    eval_every: int = 100  # also the checkpoint interval: a killed run loses at most this many steps
    eval_batches: int = 20

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "eval_batches"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} must be a positive integer")
        if self.steps % self.eval_every:
            raise ValueError(f"TrainConfig.eval_every={self.eval_every} must divide steps={self.steps}")
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"TrainConfig.warmup_steps={self.warmup_steps} must lie in [0, steps={self.steps})")

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, kw_only=True)
class Preset:
    """A size and a budget shared by all ablations; the ablation supplies the architecture."""

    description: str
    model: dict[str, object]  # ModelConfig size fields
    train: TrainConfig
    needs_gpu: bool = False  # on a cluster, a run asks for the profile's GPUs only when this is set


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        description="a few steps of a 2-layer model, for tests (seconds)",
        model=dict(d_model=32, n_layers=2, n_heads=2, context=32),
        train=TrainConfig(steps=20, batch_size=4, warmup_steps=4, eval_every=10, eval_batches=2),
    ),
    "small": Preset(
        description="one GPU: 6×512, context 256, ~19M non-embedding parameters (CS336 assignment-1 scale)",
        model=dict(d_model=512, n_layers=6, n_heads=8, context=256),
        train=TrainConfig(steps=5000, batch_size=64, lr=1e-3, warmup_steps=500, eval_every=500, eval_batches=20),
        needs_gpu=True,
    ),
    "base": Preset(
        description="GPT-2 small's shape (12×768, context 1024) for clusters",
        model=dict(d_model=768, n_layers=12, n_heads=12, context=1024),
        train=TrainConfig(steps=20_000, batch_size=32, lr=6e-4, warmup_steps=1000, eval_every=1000, eval_batches=40),
        needs_gpu=True,
    ),
    "tiny": Preset(
        description="nanoGPT's CPU quick-start budget: 4×128, ~1.5M tokens, 1-2 min per run on 2 cores",
        model=dict(d_model=128, n_layers=4, n_heads=4, context=64),
        train=TrainConfig(steps=2000, batch_size=12, lr=2e-3, warmup_steps=100, eval_every=250, eval_batches=20),
    ),
}

_TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}

Direction = Literal["lower", "higher", "not_higher"]


@dataclass(frozen=True, kw_only=True)
class Expectation:
    """The claimed sign of (variant − baseline) for one summary metric.

    lower / higher: the paired difference's 95% CI must exclude zero on that side.
    not_higher: "matches or beats": the CI's upper end must stay below `margin`.
    """

    metric: str
    direction: Direction
    margin: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Ablation:
    name: str
    claim: str
    source: str
    base: dict[str, object]  # architecture fields shared by every variant
    variants: dict[str, dict[str, object]]  # name → overrides of `base` (ModelConfig or TrainConfig fields)
    baseline: str
    treatment: str  # the variant the claim is about
    expectations: tuple[Expectation, ...]
    seeds: int = 3
    lrs: tuple[float, ...] = ()  # the LR sweep; empty: the preset's LR only
    paper: dict[str, str] = field(default_factory=dict)  # metric → the published figure, for reports

    def model_config(self, variant: str, preset: Preset) -> ModelConfig:
        """Preset size, then the ablation's base, then the variant's overrides; validated here."""
        fields = {**preset.model, **self.base, **self.variants[variant]}
        return ModelConfig().replace(**{k: v for k, v in fields.items() if k not in _TRAIN_FIELDS})

    def train_config(self, variant: str, preset: Preset, lr: float | None = None) -> TrainConfig:
        """The preset's training, with the variant's training overrides (e.g. no warm-up) and the LR."""
        overrides = {k: v for k, v in {**self.base, **self.variants[variant]}.items() if k in _TRAIN_FIELDS}
        return dataclasses.replace(preset.train, **overrides, **({"lr": lr} if lr is not None else {}))
