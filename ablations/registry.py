"""The ablations by name. Each lives in its own module and exports ABLATION."""

from __future__ import annotations

import importlib

from ablations.spec import PRESETS, Ablation, Preset

_MODULES = ("norm_position", "rmsnorm_vs_layernorm", "gated_vs_nongated", "serial_vs_parallel",
            "qk_norm_vs_softcap", "mqa_vs_gqa")


class UnknownName(ValueError):
    """A name the user typed that is not one of the valid ones; the message lists them."""


def _pick(kind: str, name: str, valid: list[str]) -> str:
    if name not in valid:
        raise UnknownName(f"unknown {kind} '{name}'; valid {kind}s: {', '.join(valid)}")
    return name


def all_ablations() -> dict[str, Ablation]:
    ablations = (importlib.import_module(f"ablations.{module}").ABLATION for module in _MODULES)
    return {ablation.name: ablation for ablation in ablations}


def get_ablation(name: str) -> Ablation:
    ablations = all_ablations()
    return ablations[_pick("ablation", name, sorted(ablations))]


def get_preset(name: str) -> Preset:
    return PRESETS[_pick("preset", name, list(PRESETS))]


def check_variants(ablation: Ablation, names: list[str]) -> list[str]:
    return [_pick("variant", name, list(ablation.variants)) for name in names]
