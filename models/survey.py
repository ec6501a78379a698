"""The lecture's survey as claims over the zoo: per rule of thumb, the models it speaks about, how many follow it
and which do not, the range of its ratio, and whether the lecture's wording holds for our table.

The criteria are fixed here, before counting: "near-universal" needs 90% of the covered models, "most" (or
"dominant", "the default") two thirds, "common" one third. "≈ x" allows ±10%; a range "a–b" is read as
[0.9·a, 1.1·b], since the lecture quotes round numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from models.config import ModelConfig
from models.zoo import ARCHITECTURES, Architecture

NEAR_UNIVERSAL, MOST, COMMON = 0.9, 2 / 3, 1 / 3
STRENGTH_NAMES = {NEAR_UNIVERSAL: "near-universal", MOST: "most", COMMON: "common"}
TOLERANCE = 0.10


def within(value: float, low: float, high: float) -> bool:
    return low * (1 - TOLERANCE) <= value <= high * (1 + TOLERANCE)


def d_ff_ratio(c: ModelConfig) -> float:
    return c.effective_d_ff / c.d_model


def heads_ratio(c: ModelConfig) -> float:
    return c.n_heads * c.effective_head_dim / c.d_model


def aspect_ratio(c: ModelConfig) -> float:
    return c.d_model / c.n_layers


def vocab_size(c: ModelConfig) -> float:
    return c.vocab_size


def stabilised(c: ModelConfig) -> bool:
    """Uses any of the lecture's softmax stabilisers: z-loss, QK-norm, soft-caps on attention or output logits."""
    return bool(c.z_loss or c.qk_norm or c.attn_softcap or c.output_softcap)


@dataclass(frozen=True)
class Rule:
    says: str  # the lecture's statement, with our reading of "≈"
    covers: str  # the models it speaks about, in words
    applies: Callable[[Architecture], bool]
    strength: float  # share of the covered models that must follow it: NEAR_UNIVERSAL, MOST or COMMON
    follows: Callable[[ModelConfig], bool]
    ratio: Callable[[ModelConfig], float] | None = None  # the quantity whose range the row reports
    digits: int = 2  # decimals of the ratio as printed


def _since(year: int) -> Callable[[Architecture], bool]:
    return lambda a: a.year >= year


def _ratio_rule(says: str, covers: str, applies, ratio, low: float, high: float, digits: int = 2) -> Rule:
    return Rule(says, covers, applies, MOST, lambda c: within(ratio(c), low, high), ratio, digits)


RULES = [
    Rule("pre-norm: no norm on the residual stream (pre, double and post-block norms keep it clean)", "all",
         lambda a: True, NEAR_UNIVERSAL, lambda c: c.norm_position != "post"),
    Rule("RMSNorm is dominant since ~2023", "releases since 2023", _since(2023), MOST, lambda c: c.norm == "rms"),
    Rule("RoPE is the standard by 2023 (hybrids with NoPE layers count)", "releases since 2023", _since(2023),
         NEAR_UNIVERSAL, lambda c: c.pos == "rope"),
    Rule("gated MLPs (SwiGLU, GeGLU) are the default since 2023", "releases since 2023", _since(2023), MOST,
         lambda c: c.gated),
    _ratio_rule("d_ff ≈ 4·d_model for plain MLPs", "dense, non-gated MLPs", lambda a: not a.moe and not a.config.gated,
                d_ff_ratio, 4, 4),
    _ratio_rule("d_ff ≈ 8/3·d_model for gated MLPs", "dense, gated MLPs", lambda a: not a.moe and a.config.gated,
                d_ff_ratio, 8 / 3, 8 / 3),
    _ratio_rule("n_heads · head_dim ≈ d_model", "all", lambda a: True, heads_ratio, 1, 1),
    _ratio_rule("aspect ratio d_model / n_layers about 100–200", "all", lambda a: True, aspect_ratio, 100, 200, 0),
    _ratio_rule("vocabulary 30–50k for monolingual models", "monolingual (paper or card)",
                lambda a: a.multilingual is False, vocab_size, 30_000, 50_000, 0),
    _ratio_rule("vocabulary 100–250k for multilingual models", "multilingual (paper or card)",
                lambda a: a.multilingual is True, vocab_size, 100_000, 250_000, 0),
    Rule("z-loss, QK-norm or logit soft-caps for stability", "releases since 2024", _since(2024), COMMON, stabilised),
    Rule("GQA or MQA for cheaper inference since 2023", "releases since 2023", _since(2023), MOST,
         lambda c: c.effective_n_kv_heads < c.n_heads),
]


@dataclass(frozen=True)
class RuleCount:
    rule: Rule
    covered: tuple[Architecture, ...]
    exceptions: tuple[Architecture, ...]

    @property
    def followed(self) -> int:
        return len(self.covered) - len(self.exceptions)

    @property
    def share(self) -> float:
        return self.followed / len(self.covered) if self.covered else float("nan")

    @property
    def holds(self) -> bool:
        return self.share >= self.rule.strength

    @property
    def span(self) -> tuple[float, float] | None:
        """The ratio's smallest and largest value over the covered models."""
        if self.rule.ratio is None or not self.covered:
            return None
        values = [self.rule.ratio(a.config) for a in self.covered]
        return min(values), max(values)


def count_rules(architectures: Iterable[Architecture] = ARCHITECTURES.values()) -> list[RuleCount]:
    architectures = list(architectures)
    counts = []
    for rule in RULES:
        covered = tuple(a for a in architectures if rule.applies(a))
        counts.append(RuleCount(rule, covered, tuple(a for a in covered if not rule.follows(a.config))))
    return counts


RULES_HEADER = ["rule (lecture)", "covers", "follow it", "exceptions", "range", "holds here?"]


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def _row(count: RuleCount) -> list[str]:
    rule = count.rule
    named = [a.name + (f" ({_number(rule.ratio(a.config), rule.digits)})" if rule.ratio else "")
             for a in count.exceptions]
    span = "–" if count.span is None else "–".join(_number(v, rule.digits) for v in count.span)
    sign = "≥" if count.holds else "<"
    holds = (f"{'yes' if count.holds else 'no'}: {count.share:.0%} {sign} {rule.strength:.0%} "
             f"({STRENGTH_NAMES[rule.strength]})")
    return [rule.says, f"{rule.covers} ({len(count.covered)})", f"{count.followed} of {len(count.covered)}",
            ", ".join(named) or "none", span, holds]


def rules_markdown(architectures: Iterable[Architecture] = ARCHITECTURES.values()) -> str:
    lines = ["| " + " | ".join(RULES_HEADER) + " |", "|" + "---|" * len(RULES_HEADER)]
    return "\n".join(lines + ["| " + " | ".join(_row(count)) + " |" for count in count_rules(architectures)])


def _position_choice(c: ModelConfig) -> str:
    if c.pos == "rope":
        return "RoPE + NoPE layers" if c.global_pos == "none" else "RoPE"
    return {"sinusoidal": "sinusoidal", "learned": "learned", "t5": "relative bias", "alibi": "ALiBi"}[c.pos]


def _heads_choice(c: ModelConfig) -> str:
    kv = c.effective_n_kv_heads
    return "MHA" if kv == c.n_heads else "MQA" if kv == 1 else "GQA"


# The figure's strips: per axis, its choices in the order they appeared, and the choice a config makes.
AXES: dict[str, tuple[tuple[str, ...], Callable[[ModelConfig], str]]] = {
    "norm": (("LayerNorm", "RMSNorm"), lambda c: {"layer": "LayerNorm", "rms": "RMSNorm"}[c.norm]),
    "norm position": (("post", "pre", "double", "post-block"), lambda c: c.norm_position.replace("_", "-")),
    "MLP": (("plain", "gated"), lambda c: "gated" if c.gated else "plain"),
    "positions": (("sinusoidal", "learned", "relative bias", "ALiBi", "RoPE", "RoPE + NoPE layers"), _position_choice),
    "K/V heads": (("MHA", "MQA", "GQA"), _heads_choice),
    "block": (("serial", "parallel"), lambda c: "serial" if c.block == "serial" else "parallel"),
    "stabiliser": (("none", "z-loss, QK-norm or soft-cap"),
                   lambda c: "z-loss, QK-norm or soft-cap" if stabilised(c) else "none"),
}
