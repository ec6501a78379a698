"""`ablate upgrade`: move stored runs from the first run-id rule (every config field hashed) to today's
(fields at their defaults left out, `ablations/identity.py`), without retraining.

A run moves only when its stored config, hashed by the old rule, gives back its folder's name: that proves
the config beside the numbers is the one they were produced by. Its design hash is mapped the same way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ablations.identity import design_hash, design_identity, run_identity
from ablations.storage import write_json
from ablations.tokenizer import BYTES


def _corpus_identity(config: dict) -> str:
    tokenizer = config.get("tokenizer") or BYTES
    sha = config["corpus_sha256"]
    return sha if tokenizer == BYTES else f"{sha}/{tokenizer}@{config['tokenizer_sha256'][:12]}"


def legacy_run_id(config: dict) -> str:
    """The first rule: every model and training field, whatever its value."""
    identity = {"model": config["model"], "train": config["train"], "corpus": _corpus_identity(config),
                "seed": config["seed"]}
    if config.get("compile"):
        identity["compile"] = True
    return design_hash(identity)


def current_run_id(config: dict) -> str:
    return run_identity(config["model"], config["train"], _corpus_identity(config), config["seed"],
                        bool(config.get("compile")))


def design_moves(tokenizers: set[str]) -> dict[str, str]:
    """Old design hash → new, for every catalogue ablation, preset, global tokenizer and compile flag."""
    from ablations.catalogue import all_ablations
    from ablations.presets import PRESETS

    moves = {}
    for ablation in all_ablations().values():
        for preset in PRESETS.values():
            for extra in [[], *([t] for t in tokenizers - {BYTES})]:
                for flag in ([], ["compile"]):
                    old = design_hash(preset.model, ablation.base, preset.train.to_dict(), *extra, *flag)
                    moves[old] = design_identity(preset.model, ablation.base, preset.train.to_dict(), *extra, *flag)
    return moves


@dataclass
class Upgrade:
    moved: list[tuple[Path, str]] = field(default_factory=list)  # old folder, new id
    current: int = 0
    unproven: list[Path] = field(default_factory=list)  # stored config does not hash to its folder name
    clashes: list[Path] = field(default_factory=list)  # the new id's folder already exists


def upgrade(results_dir: Path, dry_run: bool = False) -> Upgrade:
    runs = sorted(p.parent for p in (results_dir / "runs").glob("*/*/config.json") if not p.parent.name.startswith("_"))
    configs = {run: json.loads((run / "config.json").read_text()) for run in runs}
    moves = design_moves({c.get("tokenizer") or BYTES for c in configs.values()})
    result = Upgrade()
    for run, config in configs.items():
        new_id = current_run_id(config)
        if new_id == run.name:
            result.current += 1
        elif legacy_run_id(config) != run.name:
            result.unproven.append(run)
        elif (run.parent / new_id).exists():
            result.clashes.append(run)
        else:
            result.moved.append((run, new_id))
            if not dry_run:
                _move(run, new_id, moves)
    return result


def _move(run: Path, new_id: str, designs: dict[str, str]) -> None:
    for name in ("config.json", "summary.json"):
        path = run / name
        if path.exists():
            stored = json.loads(path.read_text())
            stored["run_id"] = new_id
            stored["design"] = designs.get(stored.get("design"), stored.get("design"))
            write_json(path, stored)
    os.replace(run, run.parent / new_id)
