"""Which configuration values make up a run's id.

The rule, for whoever adds a field to `ModelConfig` or `TrainConfig`: a field at its declared default does
not enter the id; any other value does. Give a new field the default that reproduces the behaviour from
before it existed, and every stored run keeps its id. Never change an existing field's default: every id
that omits the field would then name a different computation (`tests/golden/config_defaults.json` pins them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import cache

from ablations.declare.train_config import TrainConfig
from models import ModelConfig


def design_hash(*parts: object) -> str:
    """Short stable hash of JSON-able parts: run ids and the shared design of an ablation's runs."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def _plain(value: object) -> object:
    return json.loads(json.dumps(value))  # tuples → lists, as a stored summary holds them


@cache
def defaults(config_type: type) -> dict[str, object]:
    """Each field's declared default, JSON-shaped; fields without one always enter the id."""
    out = {}
    for field in dataclasses.fields(config_type):
        if field.default is not dataclasses.MISSING:
            out[field.name] = _plain(field.default)
        elif field.default_factory is not dataclasses.MISSING:
            out[field.name] = _plain(field.default_factory())
    return out


def distinct(config_type: type, values: dict) -> dict[str, object]:
    """The values (a config's `to_dict()` or a stored summary's copy of it) that differ from the defaults."""
    base = defaults(config_type)
    return {key: value for key, value in _plain(values).items() if key not in base or base[key] != value}


# Model fields since split or renamed, as the fields that now say the same (summaries store what was declared).
RETIRED = {"bias": ("norm_bias", "linear_bias", "qkv_bias"), "mlp": ("activation",)}


def in_current_fields(model: dict) -> dict:
    """A stored model config in today's field names: `bias` set every bias, `mlp` was the (ungated) activation."""
    out = {key: value for key, value in model.items() if key not in RETIRED}
    for old, new in RETIRED.items():
        if old in model:
            out.update(dict.fromkeys(new, model[old]))
    return out


def run_identity(model: dict, train: dict, corpus: str, seed: int, compile: bool = False) -> str:
    """A run id: model and training values off their defaults, the data (bytes and vocabulary), the seed."""
    identity = {"model": distinct(ModelConfig, model), "train": distinct(TrainConfig, train), "corpus": corpus,
                "seed": seed}
    if compile:
        identity["compile"] = True
    return design_hash(identity)


def design_identity(preset_model: dict, base: dict, train: dict, *extras: str) -> str:
    """What every run of one ablation at one preset shares (reports compare runs within one design)."""
    return design_hash(preset_model, base, distinct(TrainConfig, train), *extras)
