"""`ablate upgrade`: move stored runs from the first run-id rule (every config field hashed) to today's
(fields at their defaults left out, `ablations/runs/identity.py`), without retraining.

A run moves only when its stored config, hashed by the old rule, gives back its folder's name: that proves
the config beside the numbers is the one they were produced by. Its design hash is mapped the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ablations.data.tokenizer import BYTES
from ablations.runs.identity import design_hash, design_identity, run_identity
from ablations.runs.run_record import RunRecord


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
    from ablations.declare.presets import PRESETS

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
    records = [record for name in _ablations(results_dir) for record in RunRecord.every(results_dir, name)]
    configs = [(record, record.read_config()) for record in records]
    moves = design_moves({c.get("tokenizer") or BYTES for _, c in configs})
    result = Upgrade()
    for record, config in configs:
        new_id = current_run_id(config)
        if new_id == record.run_id:
            result.current += 1
        elif legacy_run_id(config) != record.run_id:
            result.unproven.append(record.dir)
        elif (record.dir.parent / new_id).exists():
            result.clashes.append(record.dir)
        else:
            result.moved.append((record.dir, new_id))
            if not dry_run:
                record.renamed(new_id, design=moves.get(config.get("design"), config.get("design")))
    return result


def _ablations(results_dir: Path) -> list[str]:
    runs = Path(results_dir) / "runs"
    return sorted(p.name for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
