"""Sizes and budgets shared by every ablation; the ablation supplies the architecture."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ablations.declare.names import pick
from ablations.declare.train_config import TrainConfig


@dataclass(frozen=True, kw_only=True)
class Preset:
    name: str
    description: str
    model: dict[str, object]  # ModelConfig size fields
    train: TrainConfig
    needs_gpu: bool = False  # on a cluster, a run asks for the profile's GPUs only when this is set
    # Passes over the training split a run may make without --allow-repeats (None: any). Above one, a run repeats
    # its corpus: another experiment than single-pass pre-training, which the presets for GPUs are meant to be.
    max_passes: float | None = 1.0

    @property
    def tokens(self) -> int:
        """Training tokens one run reads."""
        return self.train.steps * self.train.batch_size * int(self.model["context"])

    def tokens_per_parameter(self) -> float:
        """Training tokens per non-embedding parameter of the preset's shape (Chinchilla's rule is about 20)."""
        from models import ModelConfig
        from models.accounting import non_embedding_params

        return self.tokens / non_embedding_params(ModelConfig(**self.model))


def _by_name(*presets: Preset) -> dict[str, Preset]:
    return {preset.name: preset for preset in presets}


PRESETS: dict[str, Preset] = _by_name(
    Preset(
        name="smoke",
        description="a few steps of a 2-layer model, for tests (seconds)",
        model=dict(d_model=32, n_layers=2, n_heads=2, context=32),
        train=TrainConfig(steps=20, batch_size=4, warmup_steps=4, eval_every=10, eval_batches=2),
        max_passes=None,
    ),
    Preset(
        name="small",
        description="one GPU: 6×512, context 256, ~19M non-embedding parameters (CS336 assignment-1 scale)",
        model=dict(d_model=512, n_layers=6, n_heads=8, context=256),
        train=TrainConfig(steps=5000, batch_size=64, lr=1e-3, warmup_steps=500, eval_every=500, eval_batches=20),
        needs_gpu=True,
    ),
    Preset(
        name="base",
        description="GPT-2 small's shape (12×768, context 1024) for clusters",
        model=dict(d_model=768, n_layers=12, n_heads=12, context=1024),
        train=TrainConfig(steps=20_000, batch_size=32, lr=6e-4, warmup_steps=1000, eval_every=1000, eval_batches=40),
        needs_gpu=True,
    ),
    Preset(
        name="tiny",
        description="nanoGPT's CPU quick-start budget: 4×128, ~1.5M tokens, 1-2 min per run on 2 cores",
        model=dict(d_model=128, n_layers=4, n_heads=4, context=64),
        train=TrainConfig(steps=2000, batch_size=12, lr=2e-3, warmup_steps=100, eval_every=250, eval_batches=20),
        max_passes=4.0,  # a laptop budget on Tiny Shakespeare: 1.5 passes as bytes, 3.6 for vocab_size's BPE-2k arm
    ),
)


def _rung(n_layers: int) -> Preset:
    """tiny at another depth: its aspect ratio (d_model = 32 × layers), 32-wide heads, batch and context; steps for
    tiny's tokens per non-embedding parameter, warm-up and evaluations at tiny's fractions of the steps, and the LR
    scaled as 1/d_model from tiny's (Adam's per-width rule of thumb; no LR sweep per rung). Depth 4 is tiny."""
    from models import ModelConfig
    from models.accounting import non_embedding_params

    tiny, d_model = PRESETS["tiny"], 32 * n_layers
    model = dict(d_model=d_model, n_layers=n_layers, n_heads=n_layers, context=tiny.model["context"])
    per_step = tiny.train.batch_size * int(tiny.model["context"])
    steps = round(tiny.tokens_per_parameter() * non_embedding_params(ModelConfig(**model)) / per_step)
    train = dataclasses.replace(tiny.train, steps=steps, warmup_steps=round(steps * tiny.train.warmup_steps / tiny.train.steps),
                                eval_every=round(steps * tiny.train.eval_every / tiny.train.steps),
                                lr=tiny.train.lr * int(tiny.model["d_model"]) / d_model)
    return Preset(name=f"rung-{n_layers}x{d_model}", description=f"the scale ladder's {n_layers}×{d_model} rung: tiny's "
                  "aspect ratio, tokens per parameter and 1/d_model LR, single-pass", model=model, train=train)


PRESETS.update(_by_name(*(_rung(n) for n in (3, 5, 6))))
# The scale ladder, smallest first: ~0.33M, 0.79M (tiny itself), 1.5M and 2.7M non-embedding parameters at
# tiny's ~1.95 tokens each. Its rungs are ordinary presets: ids, resumption and arrays as for any run.
LADDER = ("rung-3x96", "tiny", "rung-5x160", "rung-6x192")


def get_preset(name: str) -> Preset:
    return PRESETS[pick("preset", name, list(PRESETS))]
