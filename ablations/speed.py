"""`ablate speed`: training-step time of an ablation's variants, measured as a paired benchmark.

Every variant's model, optimiser and one fixed batch live in one process; after warm-up the variants take
turns (A B A B …), each timed over one full step (forward, backward, clipping, AdamW), synchronised on a
GPU. Round r's times are a pair, so drift of the machine cancels in the ratio. Speed verdicts come from
here, per device, never from training runs' tokens/s.

Reading (`load_speed`, `judge_speed`) imports no torch.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ablations.markdown import markdown_table
from ablations.spec import Ablation, Claim
from ablations.stats import Interval, mean_ci, min_detectable_effect, seeds_for, verdict

CSV_PREFIX = "speed-"


def train_step(model, optimizer, inputs, targets, clip: float):
    """One full training step (forward, cross-entropy, backward, clipping, AdamW); the loss, on the device."""
    import torch.nn.functional as F
    from torch.nn.utils import clip_grad_norm_

    logits = model(inputs)
    loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
    loss.backward()
    clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss


def measure(ablation: Ablation, preset, variants: list[str], device: str = "cpu", rounds: int = 30, warmup: int = 5,
            compile: bool = False, seed: int = 0) -> pd.DataFrame:
    """One row per (round, variant): the step time in seconds. Every variant sees the same batch."""
    import torch

    from models import Transformer

    torch.manual_seed(seed)
    arms = {}
    for variant in variants:
        config, train = ablation.model_config(variant, preset), ablation.train_config(variant, preset)
        model = Transformer(config).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=train.lr, betas=train.betas, weight_decay=train.weight_decay)
        arms[variant] = (torch.compile(model) if compile else model, optimizer, train.grad_clip)
    return time_arms(arms, random_batch(preset.train.batch_size, preset.model["context"], device), device, rounds, warmup)


def random_batch(batch: int, context: int, device: str, vocab_size: int = 256):
    import torch

    tokens = torch.randint(0, vocab_size, (batch, context + 1), device=device)
    return tokens[:, :-1], tokens[:, 1:]


def time_arms(arms: dict, batch, device: str, rounds: int, warmup: int) -> pd.DataFrame:
    """Arms (name → (model, optimiser, clip)) take full training steps on one batch in turn after warm-up, the
    order reversed every other round; one row per (round, arm) with the step time in seconds."""
    import time

    import torch

    inputs, targets = batch
    variants = list(arms)

    def timed(variant: str) -> float:
        model, optimizer, clip = arms[variant]
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            train_step(model, optimizer, inputs, targets, clip)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for _ in range(warmup):  # compilation, allocator and caches
        for variant in variants:
            timed(variant)
    rows = []
    for r in range(rounds):
        order = variants if r % 2 == 0 else variants[::-1]  # neither variant always runs right after the other
        rows += [dict(round=r, variant=v, step_time_s=timed(v)) for v in order]
    return pd.DataFrame(rows)


def paired_ratio(frame: pd.DataFrame, treatment: str, baseline: str):
    """Per round log(t_treatment / t_baseline): its mean's CI, as an Interval on the log scale, and the SD."""
    times = frame.pivot_table(index="round", columns="variant", values="step_time_s")
    logs = np.log(times[treatment] / times[baseline]).dropna()
    return mean_ci(logs), float(logs.std(ddof=1)) if len(logs) > 1 else math.nan


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def speed_path(out_dir: Path, preset: str, device: str, compiled: bool) -> Path:
    return out_dir / f"{CSV_PREFIX}{preset}-{slug(device)}{'-compiled' if compiled else ''}.csv"


def load_speed(out_dir: Path) -> pd.DataFrame:
    """Every speed benchmark written beside a report, with its preset, device and whether compiled."""
    frames = [pd.read_csv(path) for path in sorted(Path(out_dir).glob(f"{CSV_PREFIX}*.csv"))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def judge_speed(claim: Claim, speed: pd.DataFrame | None) -> list[dict]:
    """A speed claim per measured (preset, device, compile): the relative change of step time (or of tokens/s,
    its inverse), its CI from the paired log-ratios, and the verdict against the claim's relative target."""
    base = dict(says=claim.says, metric=claim.metric, unit="relative", direction=claim.direction, margin=claim.margin,
                target=claim.target, treatment=claim.treatment, baseline=claim.baseline, minus="", paper=claim.paper)
    groups = [] if speed is None or speed.empty else [
        (key, part) for key, part in speed.groupby(["preset", "device", "compiled"], sort=True)
        if {claim.treatment, claim.baseline} <= set(part["variant"])]
    if not groups:
        return [dict(base, verdict="not measured", compiled=False,
                     note=f"run `ablate speed` for {claim.treatment} and {claim.baseline}",
                     pairs=0, diff_mean=math.nan, diff_low=math.nan, diff_high=math.nan, detectable=math.nan,
                     seeds_needed=math.nan, lrs="", preset="", corpus_label="", device="")]
    rows = []
    for (preset, device, compiled), part in groups:
        log_ratio, sd = paired_ratio(part, claim.treatment, claim.baseline)
        mean, low, high = log_ratio.mean, log_ratio.low, log_ratio.high
        if claim.metric == "tokens_per_s":  # the inverse of step time
            mean, low, high = -mean, -high, -low
        effect = Interval(math.expm1(mean), math.expm1(low), math.expm1(high), log_ratio.n)
        threads = part["threads"].iloc[0]
        rows.append(dict(base, preset=preset, corpus_label="random tokens", lrs="", device=device, compiled=bool(compiled),
                         diff_mean=effect.mean, diff_low=effect.low, diff_high=effect.high, pairs=effect.n,
                         detectable=math.expm1(min_detectable_effect(sd, log_ratio.n)) if sd > 0 else math.nan,
                         seeds_needed=seeds_for(math.log1p(claim.target), sd) if sd > 0 else math.inf,
                         verdict=verdict(claim, effect),
                         note=f"paired speed benchmark: {device} ({threads} torch threads), "
                              f"{'compiled' if compiled else 'eager'}, {log_ratio.n} rounds"))
    return rows


def summary_table(frame: pd.DataFrame, baseline: str) -> str:
    """Median step time per variant and the paired ratio to the baseline with its 95% CI."""
    rows = []
    for variant, part in frame.groupby("variant", sort=False):
        median = part["step_time_s"].median()
        if variant == baseline:
            rows.append([f"{variant} (baseline)", f"{median * 1e3:.2f}", "1", ""])
            continue
        log_ratio, _ = paired_ratio(frame, variant, baseline)
        rows.append([variant, f"{median * 1e3:.2f}", f"{math.exp(log_ratio.mean):.3f}",
                     f"[{math.exp(log_ratio.low):.3f}, {math.exp(log_ratio.high):.3f}]"])
    return markdown_table(["variant", "median step (ms)", f"ratio to {baseline}", "95% CI"], rows)


def write_speed(ablation: Ablation, preset, variants: list[str], out_dir: Path, device: str, rounds: int, warmup: int,
                compile: bool, device_label: str, threads: int) -> list[Path]:
    frame = measure(ablation, preset, variants, device, rounds, warmup, compile)
    frame = frame.assign(preset=preset.name, device=device_label, threads=threads, compiled=compile)
    csv = speed_path(out_dir, preset.name, device_label, compile)
    csv.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(csv, index=False)
    md = csv.with_suffix(".md")
    md.write_text("\n\n".join([
        f"# {ablation.name}: paired training-step benchmark",
        f"Preset `{preset.name}` shapes (batch {preset.train.batch_size} × context {preset.model['context']}), random "
        f"tokens; {device_label} ({threads} torch threads), {'torch.compile' if compile else 'eager'}; {warmup} warm-up "
        f"rounds, then {rounds} rounds, variants in turn (order reversed every other round). Ratio: geometric mean "
        "of the per-round ratios, with a paired-t 95% CI on their logarithms.",
        summary_table(frame, variants[0]),
    ]) + "\n")
    return [md, csv]
