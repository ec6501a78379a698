"""A run's full description and identity: what a job needs, with no training machinery imported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ablations.data.corpus import Corpus, training_passes
from ablations.declare.train_config import TrainConfig
from ablations.runs.identity import run_identity
from ablations.runs.run_record import RunRecord
from models import ModelConfig, total_params


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
    design: str = ""  # hash of what every variant shares (preset, base, training); reports compare within one
    compile: bool = False  # torch.compile the model: same numbers up to float rounding, different speed
    concurrency: int = 1  # runs sharing the machine while this one is timed; not part of its identity
    log_every: int = 50  # steps between host reads of the per-step metrics (and at every evaluation); not identity
    wandb: bool = False  # also log to Weights & Biases (`--wandb`); not identity
    threads: int | None = None  # torch intra-op threads the job takes (its share of a local machine); None: its
    # allocation's (SLURM_CPUS_PER_TASK) or torch's default; not identity

    @property
    def run_id(self) -> str:
        """Hash of everything that determines the run's numbers (the rule: `ablations/runs/identity.py`)."""
        return run_identity(self.model.to_dict(), self.train.to_dict(), self.corpus.identity, self.seed, self.compile)

    @property
    def passes(self) -> float:
        """Times its batches read the training split: above 1, a repeated-data experiment."""
        return training_passes(self.corpus, self.train.steps, self.train.batch_size, self.model.context)

    @property
    def label(self) -> str:
        """How progress lines name the run."""
        return f"{self.variant} seed {self.seed}"

    @property
    def record(self) -> RunRecord:
        return RunRecord.at(self.results_dir, self.ablation, self.run_id)

    @property
    def run_dir(self) -> Path:
        return self.record.dir

    @property
    def disk_bytes(self) -> int:
        """About what the run writes: its checkpoint (fp32 weights and AdamW's two moments, twice while one replaces
        the other) and its record (~1 kB a step in metrics, history and TensorBoard)."""
        return 2 * 12 * total_params(self.model) + 1000 * self.train.steps

    def describe(self) -> dict:
        return {
            "run_id": self.run_id, "ablation": self.ablation, "variant": self.variant, "preset": self.preset,
            "seed": self.seed, "design": self.design, "corpus": self.corpus.name, "corpus_sha256": self.corpus.sha256,
            "corpus_label": self.corpus.label, "tokenizer": self.corpus.tokenizer,
            "tokenizer_sha256": self.corpus.tokenizer_sha256, "compile": self.compile, "model": self.model.to_dict(),
            "train": self.train.to_dict(),
        }

