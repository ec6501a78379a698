"""The measuring subcommands: `ablate speed`, `profile`, `decode-bench`, `bench-peers` and `doctor`.

Speed measurements that need no training runs, written beside an ablation's report (results/reports/NAME/) with
the device they were measured on."""

from __future__ import annotations

import argparse


class BenchUsageError(ValueError):
    """Bad benchmark input; the CLI reports it as one line with exit code 2."""


def _setup(args: argparse.Namespace):
    """(ablation, preset, device, out_dir) with torch's threads set; every check before any measurement."""
    from ablations.catalogue import get_ablation
    from ablations.declare.names import UnknownName

    try:
        ablation = get_ablation(args.name)
    except UnknownName as error:
        raise BenchUsageError(str(error)) from None
    preset, device = _preset_and_device(args)
    return ablation, preset, device, args.results_dir / "reports" / ablation.name


def _preset_and_device(args: argparse.Namespace):
    """The preset, and the device (cuda when visible unless --device says), with --threads applied."""
    import torch

    from ablations.declare.names import UnknownName
    from ablations.declare.presets import get_preset

    try:
        preset = get_preset(args.preset)
    except UnknownName as error:
        raise BenchUsageError(str(error)) from None
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if getattr(args, "threads", None) is not None:
        torch.set_num_threads(args.threads)
    return preset, device


def cmd_profile(args: argparse.Namespace) -> int:
    from ablations.bench.op_profile import write_operator_profile

    ablation, preset, device, out = _setup(args)
    print(f"profiling {', '.join(ablation.variants)} on {device} ({args.preset} preset)…", flush=True)
    paths = write_operator_profile(ablation, preset, out, device)
    print(paths[0].read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_speed(args: argparse.Namespace) -> int:
    import torch

    from ablations.bench.speed import write_speed
    from ablations.training.device import device_name

    ablation, preset, device, out = _setup(args)
    variants = args.variants or list(ablation.variants)
    variants = [ablation.baseline, *(v for v in variants if v != ablation.baseline)]
    label = device_name(torch.device(device))
    print(f"timing {', '.join(variants)} in turn on {label} ({args.preset} preset, {args.rounds} rounds)…", flush=True)
    paths = write_speed(ablation, preset, variants, out, device, args.rounds, args.warmup, args.compile, label,
                        torch.get_num_threads())
    print(paths[0].read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_decode_bench(args: argparse.Namespace) -> int:
    import torch

    from ablations.bench.decode_bench import write_decode_report

    batch_sizes, contexts = args.batch_sizes, args.contexts
    ablation, _, device, out = _setup(args)
    dtype = getattr(torch, args.dtype or ("bfloat16" if device == "cuda" else "float32"))
    print(f"decoding {len(ablation.variants)} variants × {len(batch_sizes)} batch sizes × {len(contexts)} contexts "
          f"on {device}…", flush=True)
    paths = write_decode_report(ablation, args.preset, out, batch_sizes, contexts, args.new_tokens, device, args.repeats, dtype)
    print(paths[0].read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_bench_peers(args: argparse.Namespace) -> int:
    import importlib.metadata
    import shlex
    import sys
    import tempfile

    import torch

    from ablations.bench.peers import bench_peers, lightning_overhead, write_performance
    from ablations.training.device import device_name

    preset, device = _preset_and_device(args)
    out = args.results_dir / "reports"

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    label = device_name(torch.device(device))
    print(f"timing our model against the peers on {label} ({args.preset} preset, {args.rounds} rounds)…", flush=True)
    frame = bench_peers(preset, device, args.rounds, args.warmup, args.compile)
    overhead = None
    if args.overhead_steps and device == "cpu":
        print(f"timing Lightning against a bare loop ({args.overhead_repeats} × {args.overhead_steps} steps each)…", flush=True)
        with tempfile.TemporaryDirectory() as scratch:
            overhead = lightning_overhead(preset, args.overhead_steps, args.overhead_repeats, scratch)
    context = dict(preset=preset.name, device=label, threads=torch.get_num_threads(), compiled=args.compile,
                   torch=torch.__version__, x_transformers=version("x-transformers"), litgpt=version("litgpt"),
                   batch=preset.train.batch_size, context=preset.model["context"], rounds=args.rounds, warmup=args.warmup,
                   command="ablate " + shlex.join(sys.argv[1:]))
    paths = write_performance(out, frame, overhead, context)
    print(paths[0].read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    import torch

    from ablations.bench.doctor import check_axes, speed_config, throughput
    from ablations.training.device import device_name

    preset, device = _preset_and_device(args)
    label = device_name(torch.device(device))
    print(f"device: {label}; torch {torch.__version__}", flush=True)
    if args.full:
        return _full_doctor(args, device, label)
    rows = check_axes(device, compile_too=not args.eager_only)
    speed = throughput(speed_config(preset), preset.train.batch_size, device, compile=not args.eager_only)
    mfu = f"{100 * speed['mfu']:.1f}% MFU" if speed["mfu"] is not None else "MFU: no known peak for this device"
    print(f"{args.preset} preset (Llama-style, {'compiled' if not args.eager_only else 'eager'}): "
          f"{speed['tokens_per_s']:,.0f} tokens/s, {mfu}")
    failed = [row for row in rows if not row["ok"]]
    print(f"{len(rows) - len(failed)}/{len(rows)} checks passed")
    return 1 if failed else 0


def _full_doctor(args: argparse.Namespace, device: str, label: str) -> int:
    import shlex
    import sys
    from datetime import datetime, timezone
    from pathlib import Path

    import torch

    from ablations.bench.gpu_check import full_check, table, write_full_check
    from ablations.cli.flags import results_dir_default

    out = args.out or Path(results_dir_default()) / "reports"
    checks = full_check(device, eager_only=args.eager_only, say=lambda line: print(line, flush=True))
    context = dict(device=label, torch=torch.__version__, date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   command="ablate " + shlex.join(sys.argv[1:]))
    paths = write_full_check(checks, out, context)
    print(table(checks))
    failed = sum(check.status == "fail" for check in checks)
    print(f"{failed} failed, {sum(c.status.startswith('skipped') for c in checks)} skipped, "
          f"{sum(c.status == 'pass' for c in checks)} passed; wrote " + ", ".join(str(p) for p in paths))
    return 1 if failed else 0


BENCH_COMMANDS = {"profile": cmd_profile, "decode-bench": cmd_decode_bench, "speed": cmd_speed,
                  "bench-peers": cmd_bench_peers, "doctor": cmd_doctor}
