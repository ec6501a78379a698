"""What an ablation declares: the claim, its source, a base architecture, named variants and the grid.
Adding an ablation is one file in ablations/catalogue/ and never touches the trainer."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from ablations.metrics import METRICS
from ablations.presets import Preset
from ablations.train_config import FIELDS as TRAIN_FIELDS
from ablations.train_config import TrainConfig
from models import ModelConfig

Direction = Literal["lower", "higher", "not_higher"]


@dataclass(frozen=True, kw_only=True)
class Expectation:
    """The claimed sign of (variant − baseline) for one registered metric (ablations.metrics).

    lower / higher: the paired difference's 95% CI must exclude zero on that side.
    not_higher: "matches or beats": the CI's upper end must stay below `margin`.
    """

    metric: str
    direction: Direction
    margin: float = 0.0

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"Expectation.metric={self.metric!r} is not a registered metric: {', '.join(METRICS)}")


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
        return ModelConfig().replace(**{k: v for k, v in fields.items() if k not in TRAIN_FIELDS})

    def train_config(self, variant: str, preset: Preset, lr: float | None = None) -> TrainConfig:
        """The preset's training, with the variant's training overrides (e.g. no warm-up) and the LR."""
        overrides = {k: v for k, v in {**self.base, **self.variants[variant]}.items() if k in TRAIN_FIELDS}
        return dataclasses.replace(preset.train, **overrides, **({"lr": lr} if lr is not None else {}))
