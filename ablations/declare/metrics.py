"""The one registry of metrics: how a run's rows (or its config, or the trainer) give each summary value,
how tables show it, and which way is better. Summaries, comparisons, reports, the notebook and the
tests iterate METRICS; adding a metric is one entry here plus the code that measures it.

Imports no torch and no Lightning: reading results never trains.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from models import accounting

TIMING_SKIP_FRACTION = 0.1  # steps left out of speed and log-Z figures: allocator and kernel warm-up
END_FRACTION = 0.1  # the end of the cosine schedule, where weight decay's effect on training loss shows
SPIKE_WINDOW, SPIKE_SIGMAS = 50, 6.0  # a spike: loss above the mean of the previous 50 steps by 6 std

Better = Literal["lower", "higher"]
Kind = Literal["loss", "stability", "speed", "size"]  # reports group a run's metrics into one table per kind


@dataclass(frozen=True)
class RunRows:
    """A run's per-step record, split the way reductions need it."""

    train: list[dict]
    val: list[dict]
    steps: int  # the run's planned length, for the timed window
    diverged: bool
    train_tokens_per_byte: float  # of the training split: 1 for bytes

    @classmethod
    def of(cls, rows: Iterable[dict], steps: int, diverged: bool, train_tokens_per_byte: float = 1.0) -> RunRows:
        rows = list(rows)
        return cls([r for r in rows if r["split"] == "train"], [r for r in rows if r["split"] == "val"], steps, diverged,
                   train_tokens_per_byte)

    def per_byte(self, split: str, field: str, value):
        """Summaries hold nats per byte, comparable across tokenisers. Validation rows log it already, over the bytes
        of exactly the targets scored (and `loss_per_token` beside it); training rows log nats per token, converted
        here with the training split's ratio."""
        return value * self.train_tokens_per_byte if split == "train" and field == "loss" else value

    @property
    def timed(self) -> list[dict]:
        """Train rows after warm-up: the window speed and log-Z figures are taken over."""
        return [r for r in self.train if r["step"] > TIMING_SKIP_FRACTION * self.steps] or self.train


def count_loss_spikes(losses: list[float], window: int = SPIKE_WINDOW, sigmas: float = SPIKE_SIGMAS) -> int:
    """Steps whose loss exceeds the rolling mean of the previous `window` steps by `sigmas` standard
    deviations, in the spirit of OLMo-core's stability monitor."""
    spikes = 0
    for i in range(window, len(losses)):
        previous = losses[i - window : i]
        mean = statistics.fmean(previous)
        if losses[i] > mean + sigmas * statistics.pstdev(previous, mean):
            spikes += 1
    return spikes


Reduce = Callable[[RunRows], object]


def last(split: str, field: str, unless_diverged: bool = False) -> Reduce:
    def reduce(rows: RunRows):
        chosen = getattr(rows, split)
        return rows.per_byte(split, field, chosen[-1][field]) if chosen and not (unless_diverged and rows.diverged) else None
    return reduce


def best(split: str, field: str) -> Reduce:
    def reduce(rows: RunRows):
        lowest = min((r[field] for r in getattr(rows, split)), default=None)
        return None if lowest is None else rows.per_byte(split, field, lowest)
    return reduce


def timed(field: str, how: Callable[[list[float]], float]) -> Reduce:
    return lambda rows: how([r[field] for r in rows.timed]) if rows.timed else None


def end_of_schedule(field: str) -> Reduce:
    """Mean over the last END_FRACTION of the planned steps: one batch's loss is too noisy to compare."""
    def reduce(rows: RunRows):
        end = [r[field] for r in rows.train if r["step"] > (1 - END_FRACTION) * rows.steps]
        return rows.per_byte("train", field, statistics.fmean(end)) if end and not rows.diverged else None
    return reduce


def spikes(rows: RunRows) -> int:
    return count_loss_spikes([r["loss"] for r in rows.train])


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One summary value of a run. Exactly one of `from_rows`, `from_config`, `measured` says where it
    comes from; `per_layer` values are lists in the summary and their maximum in tables and claims."""

    name: str
    kind: Kind
    label: str
    unit: str = ""
    digits: int = 3
    better: Better
    scale: float = 1.0  # summary value × scale is what tables show in `unit` (bytes → MiB)
    device_dependent: bool = False  # compared only between runs measured on one device, one concurrency
    per_layer: bool = False
    across_runs: bool = False  # computed over an LR sweep, not per run (LR sensitivity)
    from_rows: Reduce | None = None
    from_config: Callable[[object], float] | None = None  # a ModelConfig → the value
    measured: bool = False  # the trainer measures it and hands it to the summary

    @property
    def heading(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def value(self, summary_value):
        """The number a table shows and a claim tests, from the summary's value (None: not measured)."""
        if summary_value is None or summary_value != summary_value:  # None or NaN
            return None
        if self.per_layer:
            return max(summary_value) * self.scale if summary_value else None
        return summary_value * self.scale

    def format(self, value: float) -> str:
        return f"{value:.{self.digits}f}"


def _registry(*metrics: Metric) -> dict[str, Metric]:
    return {metric.name: metric for metric in metrics}


METRICS: dict[str, Metric] = _registry(
    # Loss. Byte-level tokens: nats per token are nats per byte.
    Metric(name="final_val_loss", kind="loss", label="final val loss", unit="nats/byte", better="lower",
           from_rows=last("val", "loss", unless_diverged=True)),
    Metric(name="best_val_loss", kind="loss", label="best val loss", unit="nats/byte", better="lower",
           from_rows=best("val", "loss")),
    Metric(name="end_train_loss", kind="loss", label="train loss, last 10% of steps", unit="nats/byte",
           better="lower", from_rows=end_of_schedule("loss")),
    # Length extrapolation (Press et al. 2022): measured by the trainer after the last step.
    Metric(name="val_loss_at_2x_context", kind="loss", label="val loss at 2× context", unit="nats/byte",
           better="lower", measured=True),
    Metric(name="val_loss_at_4x_context", kind="loss", label="val loss at 4× context", unit="nats/byte",
           better="lower", measured=True),
    Metric(name="val_loss_past_context_at_2x", kind="loss", label="val loss past the context, 2× window",
           unit="nats/byte", better="lower", measured=True),
    Metric(name="val_loss_past_context_at_4x", kind="loss", label="val loss past the context, 4× window",
           unit="nats/byte", better="lower", measured=True),
    Metric(name="final_train_loss", kind="loss", label="final train loss", unit="nats/byte", better="lower",
           from_rows=last("train", "loss")),
    # Stability (Wortsman et al. 2023; Dehghani et al. 2023; PaLM's z-loss).
    Metric(name="loss_spikes", kind="stability", label="loss spikes", digits=1, better="lower", from_rows=spikes),
    Metric(name="mean_log_z", kind="stability", label="mean output log Z", digits=2, better="lower",  # z-loss: toward 0
           from_rows=timed("log_z", statistics.fmean)),
    Metric(name="max_attn_logit", kind="stability", label="max attention logit", digits=1, better="lower",
           per_layer=True, from_rows=last("val", "max_attn_logit")),  # at the last evaluation
    # Speed and memory: properties of the device as much as of the architecture.
    Metric(name="tokens_per_s", kind="speed", label="tokens/s", digits=0, better="higher", device_dependent=True,
           from_rows=timed("tokens_per_s", statistics.median)),
    Metric(name="step_time_s", kind="speed", label="step time", unit="s", digits=4, better="lower", device_dependent=True,
           from_rows=timed("step_time_s", statistics.median)),
    # Model FLOPs utilisation (PaLM appendix B): training FLOPs/token × tokens/s ÷ the device's dense bf16 peak.
    Metric(name="mfu", kind="speed", label="MFU", unit="%", digits=1, better="higher", scale=100.0,
           device_dependent=True, measured=True),
    Metric(name="peak_memory_bytes", kind="speed", label="peak memory", unit="MiB", digits=1, better="lower",
           scale=2**-20, device_dependent=True, measured=True),
    # Size and cost, from the config alone.
    Metric(name="params", kind="size", label="parameters", unit="M", digits=3, better="lower", scale=1e-6,
           from_config=accounting.total_params),
    Metric(name="non_embedding_params", kind="size", label="non-embedding parameters", unit="M", digits=3,
           better="lower", scale=1e-6, from_config=accounting.non_embedding_params),
    Metric(name="flops_per_token", kind="size", label="training FLOPs/token", unit="MFLOP", digits=2, better="lower",
           scale=1e-6, from_config=accounting.training_flops_per_token),
    Metric(name="attention_flops_per_token", kind="size", label="attention-score FLOPs/token", unit="kFLOP",
           digits=1, better="lower", scale=1e-3, from_config=accounting.attention_flops_per_token),
    Metric(name="train_passes", kind="size", label="passes over the training split", digits=2, better="lower",
           measured=True),
    Metric(name="kv_cache_bytes_per_token", kind="size", label="KV cache per token at full context, bf16",
           unit="bytes", digits=0, better="lower",
           from_config=lambda model: accounting.kv_cache_bytes(model, model.context) / model.context),
    Metric(name="kv_cache_bytes_at_context", kind="size", label="KV cache at full context, bf16", unit="KiB", digits=1,
           better="lower", scale=2**-10, from_config=lambda model: accounting.kv_cache_bytes(model, model.context)),
    # Over an LR sweep (Wortsman et al. 2023): the mean gap to the variant's best LR.
    Metric(name="lr_sensitivity", kind="stability", label="LR sensitivity", unit="nats/byte", better="lower",
           across_runs=True),
)

PER_RUN = [metric for metric in METRICS.values() if not metric.across_runs]  # one value per run: tables, comparisons


def summary_values(rows: RunRows, model_config, measured: dict[str, object]) -> dict[str, object]:
    """Every per-run metric's summary value: reduced from the rows, derived from the config, or measured."""
    out = {}
    for metric in PER_RUN:
        if metric.from_rows is not None:
            out[metric.name] = metric.from_rows(rows)
        elif metric.from_config is not None:
            out[metric.name] = metric.from_config(model_config)
        else:
            out[metric.name] = measured[metric.name]
    return out
