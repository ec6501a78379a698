"""Resolve: an ablation at a preset, with a choice of variants and LRs, becomes a `Design` (each variant's model,
each (variant, LR)'s training, the hash they share) in one pass over the variants. `Design.specs` adds the
corpus and the seeds. No argparse: the CLI, the reader, the notebook and tests resolve alike."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from ablations.catalogue import check_variants
from ablations.data.corpus import Corpus
from ablations.data.tokenizer import BYTES, vocab_size
from ablations.declare.presets import Preset, get_preset
from ablations.declare.spec import Ablation
from ablations.declare.train_config import TrainConfig
from ablations.declare.variant import EQUAL_COMPUTE_WITH, HEAD_RATIO, LAYERS_AT_BUDGET, WARMUP_FRACTION, WINDOW_FRACTION
from ablations.runs.identity import design_identity, distinct, in_current_fields
from ablations.runs.run_spec import RunSpec
from models import ModelConfig
from models.accounting import training_flops_per_token, width_at_budget


def config_key(model: dict, train: dict) -> str:
    """What a run computes, bar data and seed, compared as run ids compare it (fields at defaults left out)."""
    return json.dumps([distinct(ModelConfig, in_current_fields(model)), distinct(TrainConfig, train)], sort_keys=True)


@dataclass(frozen=True)
class Design:
    ablation: Ablation
    preset: str
    tokenizer: str  # the run's --tokenizer; a variant may name its own
    compile: bool
    models: dict[str, ModelConfig]  # variant → its model
    trains: dict[tuple[str, float | None], TrainConfig]  # (variant, LR asked for; None: the preset's) → training
    hash: str  # what every variant shares: reports compare runs within one design

    @property
    def context(self) -> int:
        return max(model.context for model in self.models.values())

    def tokenizers(self) -> list[str]:
        return sorted({self.ablation.tokenizer(variant, self.tokenizer) for variant in self.models})

    def keys(self) -> dict[tuple[str, float], str]:
        """(variant, LR trained at) → the config key its runs must have to count as the variant declared today."""
        return {(v, train.lr): config_key(self.models[v].to_dict(), train.to_dict()) for (v, _), train in self.trains.items()}

    def specs(self, corpus: Corpus, seeds: range, results_dir: str) -> list[RunSpec]:
        """Every run: each variant at each LR, with these seeds."""
        corpora = {name: corpus.tokenized(name) for name in self.tokenizers()}
        return [
            RunSpec(ablation=self.ablation.name, variant=variant, preset=self.preset, seed=seed,
                    model=self.models[variant], train=train, results_dir=results_dir, design=self.hash,
                    corpus=corpora[self.ablation.tokenizer(variant, self.tokenizer)], compile=self.compile)
            for (variant, _), train in self.trains.items()  # LR by LR, as asked
            for seed in seeds
        ]


def resolve(ablation: Ablation, preset: str, variants: list[str] | None = None, lrs: list[float] | None = None,
            tokenizer: str = BYTES, compile: bool = False) -> Design:
    """Raises UnknownName (a preset or variant) or ValueError (a config the variant cannot build). The parameter
    accounting (widths at a budget, FLOPs for equal compute) is read once, after every declared model exists."""
    settings = get_preset(preset)
    names = check_variants(ablation, variants) if variants else list(ablation.variants)
    extras = [*([tokenizer] if tokenizer != BYTES else []), *(["compile"] if compile else [])]
    shared = design_identity(settings.model, ablation.base, settings.train.to_dict(), *extras)
    partners = [ablation.overrides[v].relative[EQUAL_COMPUTE_WITH] for v in names
                if EQUAL_COMPUTE_WITH in ablation.overrides[v].relative]
    declared = {v: _declared_model(ablation, v, settings, tokenizer) for v in dict.fromkeys([*names, *partners])}
    models, flops = _sized(ablation, declared)
    grid = list(lrs) if lrs else list(ablation.lrs) or [None]
    trains = {(v, lr): _train(ablation, v, settings, lr, flops) for lr in grid for v in names}
    return Design(ablation, preset, tokenizer, compile, {v: models[v] for v in names}, trains, shared)


def model_config(ablation: Ablation, variant: str, preset: Preset, tokenizer: str = BYTES) -> ModelConfig:
    """One variant's model at a preset, resolved as its runs resolve it (for benchmarks, notebooks and tests)."""
    return resolve(ablation, preset.name, [variant], tokenizer=tokenizer).models[variant]


def train_config(ablation: Ablation, variant: str, preset: Preset, lr: float | None = None,
                 tokenizer: str = BYTES) -> TrainConfig:
    """One variant's training at a preset and an LR (None: the preset's), resolved as its runs resolve it."""
    lr = preset.train.lr if lr is None else lr
    return resolve(ablation, preset.name, [variant], [lr], tokenizer).trains[(variant, lr)]


def _declared_model(ablation: Ablation, variant: str, preset: Preset, tokenizer: str) -> ModelConfig:
    """Preset size, then the ablation's base, then the variant's overrides, with fractions of the preset's
    context and width resolved; validated here. A depth at a parameter budget comes after (`_sized`)."""
    relative = ablation.overrides[variant].relative
    fields = {**preset.model, **ablation.overrides[variant].model,
              "vocab_size": vocab_size(ablation.tokenizer(variant, tokenizer))}
    if WINDOW_FRACTION in relative:
        fields["sliding_window"] = max(1, round(relative[WINDOW_FRACTION] * fields.get("context", ModelConfig.context)))
    config = ModelConfig().replace(**fields)
    if HEAD_RATIO in relative:
        config = config.replace(head_dim=round(relative[HEAD_RATIO] * config.d_model / config.n_heads))
    return config


def _sized(ablation: Ablation, declared: dict[str, ModelConfig]) -> tuple[dict[str, ModelConfig], dict[str, int]]:
    """Every variant's model, with a depth at a budget given its width; and its training FLOPs per token."""
    models = {v: config.replace(**width_at_budget(config, ablation.overrides[v].relative[LAYERS_AT_BUDGET]))
              if LAYERS_AT_BUDGET in ablation.overrides[v].relative else config for v, config in declared.items()}
    return models, {v: training_flops_per_token(config) for v, config in models.items()}


def _train(ablation: Ablation, variant: str, preset: Preset, lr: float | None, flops: dict[str, int]) -> TrainConfig:
    """The preset's training, with the variant's training overrides (e.g. no warm-up, or warm-up over a fraction
    of the run, resolved to steps here so the run id holds only the step count) and the LR."""
    relative, fields = ablation.overrides[variant].relative, dict(ablation.overrides[variant].train)
    if WARMUP_FRACTION in relative:
        fields["warmup_steps"] = round(relative[WARMUP_FRACTION] * preset.train.steps)
    if EQUAL_COMPUTE_WITH in relative:  # same training FLOPs: steps × FLOPs/token, to the nearest step
        theirs, mine = flops[relative[EQUAL_COMPUTE_WITH]], flops[variant]
        fields["steps"] = max(1, round(preset.train.steps * theirs / mine))  # the last step is evaluated too
        if fields.get("warmup_steps", preset.train.warmup_steps) >= fields["steps"]:  # smoke's 8k BPE: 3 of 20
            fields["warmup_steps"] = fields["steps"] - 1  # a run shorter than the warm-up warms up to its end
    return dataclasses.replace(preset.train, **fields, **({"lr": lr} if lr is not None else {}))
