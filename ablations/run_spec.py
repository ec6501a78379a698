"""A run's full description and identity: what a job needs, with no training machinery imported."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ablations.corpus import Corpus
from ablations.spec import TrainConfig
from models import ModelConfig


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    ablation: str
    variant: str
    preset: str
    seed: int
    model: ModelConfig
    train: TrainConfig
    corpus: Corpus
    results_dir: str
    concurrency: int = 1  # runs sharing the machine while this one is timed; not part of its identity

    @property
    def run_id(self) -> str:
        """Hash of everything that determines the run's numbers: resolved configs, data bytes, seed."""
        identity = {"model": self.model.to_dict(), "train": self.train.to_dict(), "corpus": self.corpus.sha256, "seed": self.seed}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def run_dir(self) -> Path:
        return Path(self.results_dir) / "runs" / self.ablation / self.run_id

    def describe(self) -> dict:
        return {
            "run_id": self.run_id, "ablation": self.ablation, "variant": self.variant, "preset": self.preset,
            "seed": self.seed, "corpus": self.corpus.name, "corpus_sha256": self.corpus.sha256,
            "model": self.model.to_dict(), "train": self.train.to_dict(),
        }  # fmt: skip


def write_json(path: Path, payload: dict) -> None:
    """Temp file then rename: a reader never sees half a file, even if the writer is killed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, path)
