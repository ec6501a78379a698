"""What an ablation declares: the lecture's headline, its source, a base architecture, named variants, the
LR grid and the claims, each fixed before any run. Adding an ablation is one file in ablations/catalogue/
and never touches the trainer."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Literal

from ablations.data.tokenizer import BYTES, vocab_size
from ablations.declare.metrics import METRICS
from ablations.declare.presets import Preset
from ablations.declare.train_config import FIELDS as TRAIN_FIELDS
from ablations.declare.train_config import TrainConfig
from models import ModelConfig
from models.accounting import training_flops_per_token, width_at_budget

Direction = Literal["lower", "higher", "not_higher", "matches"]
Group = Literal["architecture", "attention", "stability", "hyperparameters"]  # the lecture's order of topics
GROUPS: tuple[Group, ...] = typing.get_args(Group)
# Overrides relative to the preset, resolved to absolute fields (so run ids hold only the resolved values):
WARMUP_FRACTION = "warmup_fraction"  # warm-up as a fraction of the preset's steps
WINDOW_FRACTION = "window_fraction"  # sliding window as a fraction of the preset's context
HEAD_RATIO = "head_ratio"  # head_dim · n_heads / d_model at the preset's d_model and heads
LAYERS_AT_BUDGET = "layers_at_budget"  # this depth, the width solved for the preset's non-embedding parameters
EQUAL_COMPUTE_WITH = "equal_compute_with"  # a variant: train for as many steps as give its training FLOPs
TOKENIZER = "tokenizer"  # bytes or bpe:N for this variant (sets vocab_size); else the run's --tokenizer
RELATIVE = frozenset({WARMUP_FRACTION, WINDOW_FRACTION, HEAD_RATIO, LAYERS_AT_BUDGET, EQUAL_COMPUTE_WITH, TOKENIZER})
LOSS_TARGET = 0.015  # nats/byte: the loss effect directional loss claims plan their seeds for
LOSS_WHY = "~0.9% of the tiny preset's final loss: the relative size of Narang et al.'s RMSNorm loss effect"


@dataclass(frozen=True, kw_only=True)
class Claim:
    """One pre-registered statement: the sign (or the bound) of treatment − baseline on one registered metric,
    paired by seed; with `minus`, of the interaction (treatment − baseline) − (minus[0] − minus[1]).

    lower / higher: the 95% CI excludes zero on that side (reproduced) or on the other (contradicted).
    not_higher: the CI lies below +margin (reproduced) or above it (contradicted).
    matches: the CI lies inside ±margin (equivalent) or outside it (contradicted).
    """

    says: str  # the statement, one line
    treatment: str
    baseline: str
    metric: str
    direction: Direction
    target: float  # the effect, in the metric's table units, that the seeds are planned to detect (80% power)
    why: str  # one line: why this target or margin
    margin: float = 0.0  # not_higher / matches: fixed before the runs
    minus: tuple[str, str] | None = None  # the contrast an interaction subtracts
    lrs: tuple[float, ...] = ()  # the LRs it is judged at; empty: every LR run (an LR sensitivity: its sweep)
    paper: str = ""  # the published figure, in the paper's own units
    beyond_tiny: str = ""  # what the tiny preset cannot show about this claim: said in its results row

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"Claim.metric={self.metric!r} is not a registered metric: {', '.join(METRICS)}")
        if self.direction in ("not_higher", "matches") and self.margin <= 0:
            raise ValueError(f"Claim '{self.says}': direction={self.direction} needs a margin > 0, fixed in advance")
        if self.target <= 0:
            raise ValueError(f"Claim '{self.says}': target={self.target} must be a positive effect size")

    @property
    def variants(self) -> tuple[str, ...]:
        return (self.treatment, self.baseline, *(self.minus or ()))

    @property
    def half_width(self) -> float:
        """The CI half-width the seeds aim for (Stein's d): half the target effect, or half the margin."""
        return (self.margin if self.direction in ("not_higher", "matches") else self.target) / 2

    def applies_at(self, lr: float) -> bool:
        return not self.lrs or any(abs(lr - mine) <= 1e-12 * max(lr, mine) for mine in self.lrs)


@dataclass(frozen=True, kw_only=True)
class Ablation:
    name: str
    headline: str  # what the lecture says, one line
    source: str
    base: dict[str, object]  # architecture fields shared by every variant
    variants: dict[str, dict[str, object]]  # name → overrides of `base` (ModelConfig or TrainConfig fields)
    baseline: str  # the reference of the tables' paired differences
    claims: tuple[Claim, ...]
    group: Group = "architecture"
    seeds: int = 3  # every variant's pilot; claim variants get more under --seeds auto
    lrs: tuple[float, ...] = ()  # the LR sweep; empty: the preset's LR only

    def __post_init__(self) -> None:
        unknown = {v for claim in self.claims for v in claim.variants} - set(self.variants) | {self.baseline} - set(self.variants)
        if unknown:
            raise ValueError(f"Ablation {self.name}: claims name unknown variants {sorted(unknown)}")

    def tokenizer(self, variant: str, default: str = BYTES) -> str:
        """The variant's own tokeniser, else the run's (`--tokenizer`)."""
        return self.variants[variant].get(TOKENIZER, default)

    def model_config(self, variant: str, preset: Preset, tokenizer: str = BYTES) -> ModelConfig:
        """Preset size, then the ablation's base, then the variant's overrides; validated here."""
        fields = {**preset.model, **self.base, **self.variants[variant]}
        fields["vocab_size"] = vocab_size(self.tokenizer(variant, tokenizer))
        if WINDOW_FRACTION in fields:
            context = fields.get("context", ModelConfig.context)
            fields["sliding_window"] = max(1, round(fields[WINDOW_FRACTION] * context))
        config = ModelConfig().replace(**{k: v for k, v in fields.items() if k not in TRAIN_FIELDS | RELATIVE})
        if HEAD_RATIO in fields:
            config = config.replace(head_dim=round(fields[HEAD_RATIO] * config.d_model / config.n_heads))
        if LAYERS_AT_BUDGET in fields:
            config = config.replace(**width_at_budget(config, fields[LAYERS_AT_BUDGET]))
        return config

    def train_config(self, variant: str, preset: Preset, lr: float | None = None, tokenizer: str = BYTES) -> TrainConfig:
        """The preset's training, with the variant's training overrides (e.g. no warm-up, or warm-up over a
        fraction of the run, resolved to steps here so the run id holds only the step count) and the LR."""
        fields = {**self.base, **self.variants[variant]}
        overrides = {k: v for k, v in fields.items() if k in TRAIN_FIELDS}
        if WARMUP_FRACTION in fields:
            overrides["warmup_steps"] = round(fields[WARMUP_FRACTION] * preset.train.steps)
        if EQUAL_COMPUTE_WITH in fields:  # same training FLOPs: steps × FLOPs/token, to a whole evaluation interval
            mine = training_flops_per_token(self.model_config(variant, preset, tokenizer))
            theirs = training_flops_per_token(self.model_config(fields[EQUAL_COMPUTE_WITH], preset, tokenizer))
            every = preset.train.eval_every
            overrides["steps"] = max(every, every * round(preset.train.steps * theirs / mine / every))
        return dataclasses.replace(preset.train, **overrides, **({"lr": lr} if lr is not None else {}))
