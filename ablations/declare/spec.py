"""What an ablation declares: the lecture's headline, its source, a base architecture, named variants, the
LR grid and the claims, each fixed before any run. Adding an ablation is one file in ablations/catalogue/
and never touches the trainer."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Literal

from ablations.data.tokenizer import BYTES
from ablations.declare.metrics import METRICS
from ablations.declare.variant import EQUAL_COMPUTE_WITH, TOKENIZER, Overrides

Direction = Literal["lower", "higher", "not_higher", "matches"]
Group = Literal["architecture", "attention", "stability", "hyperparameters"]  # the lecture's order of topics
GROUPS: tuple[Group, ...] = typing.get_args(Group)
LOSS_TARGET = 0.015  # nats/byte: the loss effect directional loss claims plan their seeds for
LOSS_WHY = "~0.9% of the tiny preset's final loss: the relative size of Narang et al.'s RMSNorm loss effect"
EQUIV = 0.01  # nats/byte: the one margin of every `matches` and every loss `not_higher` claim, fixed before their runs
EQUIV_WHY = ("0.01 nats/byte ≈ 0.6% of the tiny loss: below the smallest effects this catalogue counts as real "
             "(squared ReLU −0.012, MQA +0.013), no wider than any margin it replaces; paired seed spreads of 0.011–0.016 "
             "(ffn ratios, biases, head dim) need more seeds than the cap to show equivalence")


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
    base: dict[str, object]  # fields shared by every variant (architecture, mostly)
    variants: dict[str, dict[str, object]]  # name → overrides of `base`: architecture, training or relative
    baseline: str  # the reference of the tables' paired differences
    claims: tuple[Claim, ...]
    group: Group = "architecture"
    seeds: int = 3  # every variant's pilot; claim variants get more under --seeds auto
    # The pilot's first seed. Seeds below it ran before a claim took its current form: fresh seeds make the
    # confirmatory set (their old runs stay, judged apart as exploratory).
    first_seed: int = 0
    max_seeds: int = 10  # the cap on Stein's second stage, per (variant, LR): part of the declared seed plan
    lrs: tuple[float, ...] = ()  # the LR sweep; empty: the preset's LR only
    overrides: dict[str, Overrides] = dataclasses.field(init=False, repr=False, compare=False)  # base, then variant

    def __post_init__(self) -> None:
        unknown = {v for claim in self.claims for v in claim.variants} - set(self.variants) | {self.baseline} - set(self.variants)
        if unknown:
            raise ValueError(f"Ablation {self.name}: claims name unknown variants {sorted(unknown)}")
        base = Overrides.sort(f"ablation {self.name}, base", self.base)
        sorted_ = {v: base.then(Overrides.sort(f"ablation {self.name}, variant {v}", fields))
                   for v, fields in self.variants.items()}
        for variant, overrides in sorted_.items():
            if overrides.relative.get(EQUAL_COMPUTE_WITH, self.baseline) not in self.variants:
                raise ValueError(f"ablation {self.name}, variant {variant}: {EQUAL_COMPUTE_WITH}="
                                 f"{overrides.relative[EQUAL_COMPUTE_WITH]!r} is not one of its variants")
        object.__setattr__(self, "overrides", sorted_)

    def tokenizer(self, variant: str, default: str = BYTES) -> str:
        """The variant's own tokeniser, else the run's (`--tokenizer`)."""
        return self.overrides[variant].relative.get(TOKENIZER, default)
