"""Resolve: an ablation at a preset, with a choice of variants and LRs, becomes a `Design` (each variant's model,
each (variant, LR)'s training, the hash they share) in one pass over the variants. `Design.specs` adds the
corpus and the seeds. No argparse: the CLI, the reader, the notebook and tests resolve alike."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ablations.catalogue import check_variants
from ablations.data.corpus import Corpus
from ablations.data.tokenizer import BYTES
from ablations.declare.presets import get_preset
from ablations.declare.spec import Ablation
from ablations.declare.train_config import TrainConfig
from ablations.runs.identity import design_identity, distinct, in_current_fields
from ablations.runs.run_spec import RunSpec
from models import ModelConfig


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

    def specs(self, corpus: Corpus, seeds: range | dict[tuple[str, float], range], results_dir: str) -> list[RunSpec]:
        """Every run: seeds for all, or (variant, LR) → seeds (Stein's second stage)."""
        corpora = {name: corpus.tokenized(name) for name in self.tokenizers()}
        return [
            RunSpec(ablation=self.ablation.name, variant=variant, preset=self.preset, seed=seed,
                    model=self.models[variant], train=train, results_dir=results_dir, design=self.hash,
                    corpus=corpora[self.ablation.tokenizer(variant, self.tokenizer)], compile=self.compile)
            for (variant, _), train in self.trains.items()  # LR by LR, as asked
            for seed in (seeds if isinstance(seeds, range) else seeds.get((variant, train.lr), ()))
        ]


def resolve(ablation: Ablation, preset: str, variants: list[str] | None = None, lrs: list[float] | None = None,
            tokenizer: str = BYTES, compile: bool = False) -> Design:
    """Raises UnknownName (a preset or variant) or ValueError (a config the variant cannot build)."""
    settings = get_preset(preset)
    names = check_variants(ablation, variants) if variants else list(ablation.variants)
    models = {variant: ablation.model_config(variant, settings, tokenizer) for variant in names}
    grid = list(lrs) if lrs else list(ablation.lrs) or [None]
    trains = {(v, lr): ablation.train_config(v, settings, lr, tokenizer, models) for lr in grid for v in names}
    extras = [*([tokenizer] if tokenizer != BYTES else []), *(["compile"] if compile else [])]
    return Design(ablation, preset, tokenizer, compile, models, trains,
                  design_identity(settings.model, ablation.base, settings.train.to_dict(), *extras))
