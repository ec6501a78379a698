"""`ablate doctor --full`: the one check to run first on a new GPU node (about 8 minutes on one GPU), printed as
one table and written beside the performance report as doctor-DEVICE.md and .csv. Its sections:

  axes        every variant axis (the doctor's packed models): bf16 against float32, eager and compiled, and the
              kernels taken (fused SDPA for plain attention; FlexAttention for windows, soft-caps and biases)
  speed       step time, tokens/s and MFU of the Llama-style model at the small and base shapes, eager and compiled
  peers       the same steps against x-transformers and litgpt at matched configs (ablations.bench.peers)
  host syncs  runtime synchronisations per step of the Lightning system between two flushes
  memory      peak memory per preset, and the largest batch that fits at base
  run path    a real `ablate run` through the local executor, then `ablate report` on it
  ddp         one DistributedDataParallel step in a one-process NCCL group, its gradients against the plain step's

Every row passes, fails, or says why it was skipped; a section that raises becomes one failed row and the others
still run. Under --device cpu it is a dry run of the same code: smoke and tiny shapes, no compiling (inductor
builds C++ for minutes per model on a CPU; tests/test_compile.py covers it), and what needs CUDA says so."""

from __future__ import annotations

import gc
import math
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch

from ablations.bench import gpu_probes
from ablations.bench.doctor import BF16_TOLERANCE, PACKED, PLAIN, check_axes, speed_config, throughput
from ablations.declare.presets import get_preset
from ablations.judge.speed_verdicts import slug
from ablations.reporting.markdown import markdown_table
from ablations.training.device import device_name

GOAL_MFU = 0.40  # at base, compiled
GOAL_PEER_RATIO = 1.0  # our step time ÷ the fastest peer's
GOAL_SYNCS = 0  # per training step between flushes
GOAL_SECONDS = {"cuda": 480, "cpu": 60}
NEEDS_CUDA = "needs CUDA"
GPU_GOAL = "a GPU goal; the CPU figure is a dry run"


@dataclass(frozen=True)
class Check:
    """One row of the table."""

    section: str
    check: str
    figure: str
    expected: str
    status: str  # "pass", "fail", or "skipped: <why>"


def verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def skipped(why: str) -> str:
    return f"skipped: {why}"


@dataclass(frozen=True)
class Plan:
    """How big each section runs on this device."""

    device: str
    shapes: tuple[str, str]  # presets timed: (small, base) on a GPU; (smoke, tiny) on a CPU
    no_compile: str | None  # why compiled rows are skipped, or None
    steps: int  # timed steps per speed row
    rounds: int  # timed rounds per peer pair, after `warmup`
    warmup: int

    @classmethod
    def for_device(cls, device: str, eager_only: bool = False) -> Plan:
        if device == "cuda":
            return cls(device, ("small", "base"), "--eager-only" if eager_only else None, 30, 20, 3)
        return cls(device, ("smoke", "tiny"), "CPU dry run (inductor's C++ build takes minutes per model)", 10, 5, 1)



MODES = (False, True)  # compiled?


def mode(compiled: bool) -> str:
    return "compiled" if compiled else "eager"


def axes_section(plan: Plan) -> list[Check]:
    rows = {(r["model"], r["compiled"]): r for r in check_axes(plan.device, plan.no_compile is None, say=lambda _: None)}
    checks = []
    for name in PACKED:
        for compiled in MODES:
            row, label = rows.get((name, compiled)), f"{name}, {mode(compiled)}"
            expected = f"gap < {BF16_TOLERANCE} nats, finite loss and gradients"
            if row is None:
                checks.append(Check("axes", f"{label}: bf16 vs float32 step", "–", expected, skipped(plan.no_compile)))
            else:
                ok = row["gap"] < BF16_TOLERANCE and row["grads_finite"] and math.isfinite(row["bf16_loss"])
                checks.append(Check("axes", f"{label}: bf16 vs float32 step", f"bf16 {row['bf16_loss']:.4f}, "
                                    f"float32 {row['fp32_loss']:.4f}, gap {row['gap']:.4f}", expected, verdict(ok)))
            needs_flex = rows[(name, False)]["needs_flex"]
            if name != PLAIN and not (compiled and needs_flex):
                continue
            expected = "fused SDPA (math fallback refused)" if name == PLAIN else "FlexAttention in the profile"
            if plan.device != "cuda" or row is None:
                status, figure = skipped(NEEDS_CUDA if plan.device != "cuda" else plan.no_compile), "–"
            else:
                status, figure = verdict(not row["kernel"].startswith("NOT")), row["kernel"]
            checks.append(Check("axes", f"{label}: attention kernel", figure, expected, status))
    return checks


def _peak_start(device: str) -> int:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _peak_end(device: str, start: int) -> int:
    if device == "cuda":
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start  # growth of the high-water mark


def speed_section(plan: Plan, peaks: dict) -> list[Check]:
    """Also fills `peaks`: (preset, compiled) → peak bytes while timing, for the memory section."""
    checks = []
    for shape in plan.shapes:
        preset = get_preset(shape)
        for compiled in MODES:
            label = f"{shape} (batch {preset.train.batch_size} × {preset.model['context']}), {mode(compiled)}"
            headline = shape == plan.shapes[1] and compiled
            expected = f"MFU ≥ {GOAL_MFU:.0%}" if headline else "measured"
            if compiled and plan.no_compile:
                checks.append(Check("speed", label, "–", expected, skipped(plan.no_compile)))
                continue
            start = _peak_start(plan.device)
            speed = throughput(speed_config(preset), preset.train.batch_size, plan.device, compiled, plan.steps)
            peaks[(shape, compiled)] = _peak_end(plan.device, start)
            step_ms = preset.train.batch_size * preset.model["context"] / speed["tokens_per_s"] * 1e3
            mfu = "MFU n/a (no known peak)" if speed["mfu"] is None else f"MFU {speed['mfu']:.1%}"
            status = "pass" if not headline else (
                skipped(f"no known bf16 peak for {device_name(torch.device(plan.device))}") if speed["mfu"] is None
                else verdict(speed["mfu"] >= GOAL_MFU))
            checks.append(Check("speed", label, f"{step_ms:.1f} ms/step, {speed['tokens_per_s']:,.0f} tokens/s, {mfu}",
                                expected, status))
    return checks


def peers_section(plan: Plan) -> list[Check]:
    """Llama style, our step ÷ each peer's (paired rounds), then ÷ the fastest peer's against the goal."""
    from ablations.bench.peers import PEERS, _arm, our_config, peer_model
    from ablations.bench.speed import random_batch, time_arms
    from ablations.judge.speed_verdicts import paired_ratio
    from models import Transformer

    checks = []
    for shape in plan.shapes:
        preset = get_preset(shape)
        for compiled in MODES:
            label, ratios = f"{shape}, {mode(compiled)}", {}
            for peer in PEERS:
                if compiled and plan.no_compile:
                    checks.append(Check("peers", f"ours ÷ {peer}, {label}", "–", "measured", skipped(plan.no_compile)))
                    continue
                config = our_config("llama", peer, preset)
                torch.manual_seed(0)
                try:
                    theirs = peer_model("llama", peer, config)
                except ImportError as error:
                    checks.append(Check("peers", f"ours ÷ {peer}, {label}", "–", "measured",
                                        skipped(f"{peer} not installed ({error})")))
                    continue
                arms = {"ours": _arm(Transformer(config), plan.device, compiled), peer: _arm(theirs, plan.device, compiled)}
                frame = time_arms(arms, random_batch(preset.train.batch_size, config.context, plan.device), plan.device,
                                  plan.rounds, plan.warmup)
                log_ratio, _ = paired_ratio(frame, "ours", peer)
                ratios[peer] = math.exp(log_ratio.mean)
                medians = frame.groupby("variant")["step_time_s"].median() * 1e3
                checks.append(Check("peers", f"ours ÷ {peer}, {label}", f"{ratios[peer]:.3f} [{math.exp(log_ratio.low):.3f}, "
                                    f"{math.exp(log_ratio.high):.3f}]; {medians['ours']:.1f} vs {medians[peer]:.1f} ms",
                                    "measured", "pass"))
            expected = f"≤ {GOAL_PEER_RATIO}"
            if not ratios:
                checks.append(Check("peers", f"ours ÷ fastest peer, {label}", "–", expected,
                                    skipped(plan.no_compile if compiled and plan.no_compile else "no peer installed")))
                continue
            fastest = max(ratios, key=ratios.get)  # the largest ours ÷ peer is the fastest peer
            ok = ratios[fastest] <= GOAL_PEER_RATIO
            checks.append(Check("peers", f"ours ÷ fastest peer, {label}", f"{ratios[fastest]:.3f} ({fastest})", expected,
                                verdict(ok) if plan.device == "cuda" else skipped(GPU_GOAL)))
    return checks


def syncs_section(plan: Plan) -> list[Check]:
    preset, window = get_preset(plan.shapes[0]), 10
    syncs, events = gpu_probes.host_syncs(plan.device, speed_config(preset), preset.train.batch_size, window=window)
    total = sum(syncs.values())
    named = "; ".join(f"{name} × {count}" for name, count in syncs.most_common(3))
    figure = f"{total / window:g} per step ({total} in {window} steps{': ' + named if named else ''})"
    if plan.device != "cuda":
        status = skipped(f"{NEEDS_CUDA}: a CPU step has no host–device sync (the window ran: {events:,} events)")
    else:
        status = verdict(total == GOAL_SYNCS and events > 0)
    return [Check("host syncs", f"Lightning system, {plan.shapes[0]}, eager, between flushes", figure,
                  f"{GOAL_SYNCS} per step", status)]


def memory_section(plan: Plan, peaks: dict) -> list[Check]:
    checks = []
    for shape in plan.shapes:
        if plan.device == "cuda":
            figure = ", ".join(f"{mode(c)} {peaks[(shape, c)] / 2**30:.2f} GiB" for c in MODES if (shape, c) in peaks)
            total = torch.cuda.get_device_properties(0).total_memory / 2**30
            checks.append(Check("memory", f"peak allocated while timing, {shape}", f"{figure} of {total:.0f} GiB",
                                "measured", verdict(bool(figure))))
        else:
            figure = ", ".join(f"{mode(c)} +{peaks[(shape, c)] / 2**20:.0f} MiB max RSS" for c in MODES if (shape, c) in peaks)
            checks.append(Check("memory", f"peak allocated while timing, {shape}", figure, "measured",
                                skipped(f"{NEEDS_CUDA}: max RSS is a process-wide high-water mark")))
    preset = get_preset(plan.shapes[1])
    check = f"largest batch at {plan.shapes[1]} (× {preset.model['context']}, eager bf16 AdamW)"
    expected = f"≥ {preset.train.batch_size} (the preset's)"
    if plan.device != "cuda":
        return [*checks, Check("memory", check, "–", expected, skipped(f"{NEEDS_CUDA} (out-of-memory search)"))]
    batch = gpu_probes.largest_batch(gpu_probes.cuda_fits(speed_config(preset)), preset.train.batch_size, cap=4096)
    return [*checks, Check("memory", check, f"{batch}", expected, verdict(batch >= preset.train.batch_size))]


def run_path_section(plan: Plan) -> list[Check]:
    with tempfile.TemporaryDirectory() as scratch:
        done = gpu_probes.run_and_report(plan.device, Path(scratch))
    run, summary, where = done["run"], done["summary"], "a GPU" if plan.device == "cuda" else "the CPU"
    trained_here = summary is not None and summary["device"].startswith("cpu") == (plan.device == "cpu")
    figure = (f"exit {run['returncode']} in {run['seconds']:.0f} s; " + (
        f"{summary['steps_done']} steps on {summary['device']}, final val loss {summary['final_val_loss']:.3f}"
        if summary else f"no summary: {' '.join(run['tail'])}"))
    checks = [Check("run path", f"ablate run {gpu_probes.RUN_ABLATION} --preset smoke --variants {gpu_probes.RUN_VARIANT} "
                    "--seeds 1 --executor local (no steps override exists for small)", figure,
                    f"exit 0, summary written, trained on {where}", verdict(run["returncode"] == 0 and trained_here))]
    report = done.get("report")
    checks.append(Check("run path", f"ablate report {gpu_probes.RUN_ABLATION}", "–" if report is None else
                        f"exit {report['returncode']} in {report['seconds']:.0f} s; table.md "
                        f"{'written' if done['table'] else 'missing'}", "exit 0, table.md written",
                        skipped("ablate run failed") if report is None else verdict(report["returncode"] == 0 and done["table"])))
    return checks


def ddp_section(plan: Plan) -> list[Check]:
    with tempfile.TemporaryDirectory() as scratch:
        loss, ddp, plain = gpu_probes.ddp_step(plan.device, Path(scratch))
    gap = max((ddp[name] - grad).abs().max().item() for name, grad in plain.items())
    equal = all(torch.allclose(ddp[name], grad) for name, grad in plain.items())
    backend = "nccl" if plan.device == "cuda" else "gloo"
    return [Check("ddp", f"one step, DistributedDataParallel in a 1-process {backend} group", f"loss {loss:.4f}, "
                  f"max |DDP − plain gradient| {gap:.1e}", "finite loss; gradients equal the plain step's",
                  verdict(math.isfinite(loss) and equal))]


def full_check(device: str, eager_only: bool = False, say: Callable[[str], None] = print) -> list[Check]:
    """Every section in turn; the last row is the whole check's wall time against its budget."""
    plan, peaks = Plan.for_device(device, eager_only), {}
    sections = {"axes": lambda: axes_section(plan), "speed": lambda: speed_section(plan, peaks),
                "peers": lambda: peers_section(plan), "host syncs": lambda: syncs_section(plan),
                "memory": lambda: memory_section(plan, peaks), "run path": lambda: run_path_section(plan),
                "ddp": lambda: ddp_section(plan)}
    checks, seconds, started = [], {}, time.perf_counter()
    for name, run in sections.items():
        say(f"{name}…")
        start = time.perf_counter()
        try:
            rows = run()
        except Exception as error:  # one broken section is a failed row; the others still run
            rows = [Check(name, "section ran", f"{type(error).__name__}: {error}"[:300], "no error", "fail")]
        seconds[name] = time.perf_counter() - start
        checks += rows
    total = time.perf_counter() - started
    split = ", ".join(f"{name} {s:.0f}" for name, s in seconds.items())
    budget = GOAL_SECONDS["cuda" if device == "cuda" else "cpu"]
    return [*checks, Check("total", "wall time of --full", f"{total:.0f} s ({split})", f"< {budget} s", verdict(total < budget))]


def table(checks: list[Check]) -> str:
    return markdown_table(["section", "check", "figure", "expected", "status"],
                          [[str(v).replace("|", "\\|") for v in asdict(c).values()] for c in checks])


def write_full_check(checks: list[Check], out_dir: Path, context: dict) -> list[Path]:
    """doctor-DEVICE.md (the table, and what it was measured with) and doctor-DEVICE.csv (its rows, with the same)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"doctor-{slug(context['device'])}"
    failed = sum(c.status == "fail" for c in checks)
    markdown = "\n\n".join([
        f"# `ablate doctor --full` on {context['device']}",
        f"torch {context['torch']}; {context['date']}. Command: `{context['command']}`. Goals on one GPU: MFU ≥ "
        f"{GOAL_MFU:.0%} at base compiled, ours ÷ fastest peer ≤ {GOAL_PEER_RATIO}, {GOAL_SYNCS} host syncs per "
        f"step between flushes, the whole check under {GOAL_SECONDS['cuda'] // 60} minutes. {failed} failed, "
        f"{sum(c.status.startswith('skipped') for c in checks)} skipped, {sum(c.status == 'pass' for c in checks)} passed.",
        table(checks)]) + "\n"
    paths = [stem.with_suffix(".md"), stem.with_suffix(".csv")]
    paths[0].write_text(markdown)
    pd.DataFrame([asdict(c) for c in checks]).assign(**context).to_csv(paths[1], index=False)
    return paths
