"""The catalogue: one module per ablation, each exporting ABLATION, found by looking in this folder.
Adding an ablation is adding a file here; nothing else lists them."""

from __future__ import annotations

import importlib
import pkgutil

from ablations.declare.names import pick
from ablations.declare.spec import Ablation


def discover(package: str = __name__) -> dict[str, Ablation]:
    """Every ABLATION in the package's modules, by name, in name order."""
    root = importlib.import_module(package)
    found = {}
    for module in pkgutil.iter_modules(root.__path__):
        ablation = importlib.import_module(f"{package}.{module.name}").ABLATION
        if ablation.name in found:
            raise ValueError(f"two ablations are named {ablation.name!r}")
        found[ablation.name] = ablation
    return dict(sorted(found.items()))


def all_ablations() -> dict[str, Ablation]:
    return discover()


def get_ablation(name: str) -> Ablation:
    ablations = discover()
    return ablations[pick("ablation", name, list(ablations))]


def check_variants(ablation: Ablation, names: list[str]) -> list[str]:
    return [pick("variant", name, list(ablation.variants)) for name in names]
