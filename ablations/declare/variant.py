"""A variant's overrides, told apart when the ablation is declared: architecture (ModelConfig fields),
training (TrainConfig fields) and overrides relative to the preset, which resolve to absolute fields so
run ids hold only resolved values. A key that is none of these is refused with every allowed key."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from ablations.declare.train_config import TrainConfig
from models import ModelConfig
from models.config import LLAMA_STYLE

WARMUP_FRACTION = "warmup_fraction"  # warm-up as a fraction of the preset's steps
WINDOW_FRACTION = "window_fraction"  # sliding window as a fraction of the preset's context
HEAD_RATIO = "head_ratio"  # head_dim · n_heads / d_model at the preset's d_model and heads
LAYERS_AT_BUDGET = "layers_at_budget"  # this depth, the width solved for the preset's non-embedding parameters
EQUAL_COMPUTE_WITH = "equal_compute_with"  # a variant: train for as many steps as give its training FLOPs
TOKENIZER = "tokenizer"  # bytes or bpe:N for this variant (sets vocab_size); else the run's --tokenizer
RELATIVE = (WARMUP_FRACTION, WINDOW_FRACTION, HEAD_RATIO, LAYERS_AT_BUDGET, EQUAL_COMPUTE_WITH, TOKENIZER)
MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig))
TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))


@dataclass(frozen=True)
class Overrides:
    model: Mapping[str, object]
    train: Mapping[str, object]
    relative: Mapping[str, object]

    @classmethod
    def sort(cls, where: str, fields: Mapping[str, object]) -> Overrides:
        """Split declared fields by kind; `where` names them in the error (e.g. "ablation x, variant y")."""
        unknown = sorted(set(fields) - set(MODEL_FIELDS) - set(TRAIN_FIELDS) - set(RELATIVE))
        if unknown:
            raise ValueError(f"{where}: unknown override(s) {', '.join(unknown)}; allowed: architecture "
                             f"{', '.join(MODEL_FIELDS)}; training {', '.join(TRAIN_FIELDS)}; relative to the preset "
                             f"{', '.join(RELATIVE)}")
        pick = lambda names: {k: v for k, v in fields.items() if k in names}  # noqa: E731
        return cls(pick(MODEL_FIELDS), pick(TRAIN_FIELDS), pick(RELATIVE))

    def then(self, other: Overrides) -> Overrides:
        """These overrides, then `other`'s on top (a base, then a variant)."""
        return Overrides({**self.model, **other.model}, {**self.train, **other.train}, {**self.relative, **other.relative})


def llama_style(*, varied: tuple[str, ...] = (), **more: object) -> dict[str, object]:
    """The shared Llama-style base (RMSNorm, SwiGLU, RoPE, no biases) with `more` on top, leaving out the fields
    the ablation's variants set themselves (`varied`), so a base never hides what is being compared."""
    return {**{k: v for k, v in LLAMA_STYLE.items() if k not in varied}, **more}
