"""`ablate speed`: training-step time of an ablation's variants, measured as a paired benchmark.

Every variant's model, optimiser and one fixed batch live in one process; after warm-up the variants take
turns (A B A B …), each timed over one full step (forward, backward, clipping, AdamW), synchronised on a
GPU. Round r's times are a pair, so drift of the machine cancels in the ratio. Speed verdicts come from
here, per device, never from training runs' tokens/s.

Reading and judging them (`ablations/judge/speed_verdicts.py`) imports no torch.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ablations.declare.spec import Ablation
from ablations.judge.speed_verdicts import paired_ratio, speed_path
from ablations.reporting.markdown import markdown_table
from ablations.runs.resolve import model_config, train_config


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
        config, train = model_config(ablation, variant, preset), train_config(ablation, variant, preset)
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
