"""The run record as a Lightning logger: flat metric keys in, one tidy row per (split, step) out.

Keys are `split/name`, or `split/name/i` for the i-th layer of a per-layer value, which becomes a list.
TensorBoard's logger receives the same keys, so its event files and the JSONL record always agree.
"""

from __future__ import annotations

import os
import statistics
from argparse import Namespace

from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from ablations.runs.run_record import RunRecord
from ablations.runs.run_spec import RunSpec

WANDB_PROJECT = "ablate"  # unless $WANDB_PROJECT names another


def rows_from_metrics(metrics: dict[str, float], step: int) -> list[dict]:
    """{'val/loss': 1.2, 'val/max_attn_logit/1': 3.0, 'val/max_attn_logit/0': 2.0, 'epoch': 0} →
    [{'split': 'val', 'step': step, 'loss': 1.2, 'max_attn_logit': [2.0, 3.0]}]. Keys without a split are
    Lightning's own (epoch) and are dropped."""
    rows: dict[str, dict] = {}
    layered: dict[tuple[str, str], dict[int, float]] = {}
    for key, value in metrics.items():
        split, _, name = key.partition("/")
        if not name:
            continue
        row = rows.setdefault(split, {"split": split, "step": step})
        name, _, layer = name.partition("/")
        if layer:
            layered.setdefault((split, name), {})[int(layer)] = float(value)
        else:
            row[name] = float(value)
    for (split, name), values in layered.items():
        rows[split][name] = [values[i] for i in sorted(values)]
    return list(rows.values())


class RunRecordLogger(Logger):
    """Appends rows to the run's metrics.jsonl and prints a progress line at each evaluation.

    The first rows a (re)started run writes cut the record back before their step, so the steps a killed
    run repeats after its checkpoint are recorded once."""

    def __init__(self, record: RunRecord, max_steps: int) -> None:
        super().__init__()
        self.record, self.max_steps = record, max_steps
        self._cut = False
        self._recent: list[dict] = []  # train rows since the last evaluation, for the progress line

    @property
    def name(self) -> str:
        return "run_record"

    @property
    def version(self) -> str:
        return self.record.run_id

    @rank_zero_only
    def log_hyperparams(self, params: dict | Namespace, *args, **kwargs) -> None:
        """The run's config.json is its hyperparameters; the run record writes it."""

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        rows = rows_from_metrics(metrics, int(step))
        if not rows:
            return
        if not self._cut:
            self.record.keep_rows_before(step)
            self._cut = True
        self.record.append_rows(rows)
        for row in rows:
            if row["split"] == "train":
                self._recent.append(row)
            elif row["split"] == "val":
                self._progress(row)

    def _progress(self, val: dict) -> None:
        line = f"step {val['step']}/{self.max_steps}"
        if self._recent:
            line += f" · train loss {statistics.mean(r['loss'] for r in self._recent):.3f}"
        line += f" · val loss {val['loss']:.3f} nats/byte"  # train: nats/token (the same for bytes)
        if self._recent:
            line += f" · {statistics.median(r['tokens_per_s'] for r in self._recent) / 1e3:.1f}k tok/s"
        print(line, flush=True)
        self._recent = []


def tensorboard_logger(record: RunRecord, label: str, purge_step: int | None) -> TensorBoardLogger:
    """Event files under the run's tensorboard/<label>/, so `tensorboard --logdir RESULTS/runs/<ablation>`
    names each run by its variant, seed and LR. purge_step: TensorBoard drops what an earlier attempt
    logged from that step on, so a resumed run shows each step once."""
    return TensorBoardLogger(save_dir=record.tensorboard_dir, name="", version=label, default_hp_metric=False,
                             purge_step=purge_step)


def wandb_logger(spec: RunSpec, label: str) -> Logger:
    """Weights & Biases through Lightning's own logger: one W&B run per (variant, seed, LR) named as TensorBoard
    names it, grouped by ablation and design, its id the run id (a resumed run continues the same W&B run;
    steps it repeats after its checkpoint are W&B's to drop), its files under the run's wandb/. Online or
    offline as wandb is set up (WANDB_MODE); `--wandb` checks that before any job starts."""
    from lightning.pytorch.loggers import WandbLogger

    return WandbLogger(project=os.environ.get("WANDB_PROJECT", WANDB_PROJECT), name=label, id=spec.run_id,
                       group=f"{spec.ablation}-{spec.design}", job_type=spec.variant,
                       tags=[spec.ablation, spec.preset, spec.variant], config=spec.describe(),
                       save_dir=str(spec.record.dir), resume="allow")


def finish(loggers: list[Logger]) -> None:
    """End a W&B run with its training, so the next run in this process (the debug executor) starts its own."""
    for logger in loggers:
        if type(logger).__name__ == "WandbLogger":
            logger.experiment.finish()


def wandb_unusable() -> str | None:
    """Why `--wandb` cannot log here, or None: the library is missing, or online mode has no key to log in with."""
    try:
        import wandb  # noqa: F401
    except ImportError:
        return 'needs the wandb library: pip install -e ".[wandb]"'
    if os.environ.get("WANDB_MODE", "").lower() in ("offline", "disabled", "dryrun") or os.environ.get("WANDB_API_KEY"):
        return None
    netrc = os.path.expanduser(os.environ.get("NETRC", "~/.netrc"))
    if os.path.exists(netrc) and "api.wandb.ai" in open(netrc).read():
        return None
    return "no W&B login here: run `wandb login`, set WANDB_API_KEY, or WANDB_MODE=offline (sync later with wandb sync)"
