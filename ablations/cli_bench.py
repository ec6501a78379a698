"""`ablate speed`, `ablate profile` and `ablate decode-bench`: speed measurements that need no training runs,
written beside an ablation's report (results/reports/NAME/) with the device they were measured on."""

from __future__ import annotations

import argparse

DTYPES = ("float32", "bfloat16")


class BenchUsageError(ValueError):
    """Bad benchmark input; the CLI reports it as one line with exit code 2."""


def _ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise BenchUsageError(f"{flag} takes comma-separated whole numbers, got {text!r}") from None
    if min(values) < 1:
        raise BenchUsageError(f"{flag} values must be at least 1, got {text!r}")
    return values


def _setup(args: argparse.Namespace):
    """(ablation, preset, device, out_dir) with torch's threads set; every check before any measurement."""
    from ablations.catalogue import get_ablation
    from ablations.declare.names import UnknownName

    try:
        ablation = get_ablation(args.name)
    except UnknownName as error:
        raise BenchUsageError(str(error)) from None
    preset, device = _preset_and_device(args)
    return ablation, preset, device, args.results_dir_type(args.results_dir) / "reports" / ablation.name


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
    if device == "cuda" and not torch.cuda.is_available():
        raise BenchUsageError("--device cuda: no CUDA device is visible; use --device cpu")
    if getattr(args, "threads", None) is not None:
        if args.threads < 1:
            raise BenchUsageError("--threads must be at least 1")
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
    from ablations.catalogue import check_variants
    from ablations.training.device import device_name

    if args.rounds < 2 or args.warmup < 0:
        raise BenchUsageError(f"--rounds must be at least 2 and --warmup at least 0, got {args.rounds} and {args.warmup}")
    ablation, preset, device, out = _setup(args)
    try:
        variants = check_variants(ablation, args.variants.split(",")) if args.variants else list(ablation.variants)
    except ValueError as error:
        raise BenchUsageError(str(error)) from None
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

    batch_sizes, contexts = _ints(args.batch_sizes, "--batch-sizes"), _ints(args.contexts, "--contexts")
    if args.new_tokens < 1 or args.new_tokens >= min(contexts) or args.repeats < 1:
        raise BenchUsageError("--new-tokens must lie between 1 and the smallest context minus 1; --repeats at least 1")
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

    if args.rounds < 2 or args.warmup < 0 or args.overhead_steps < 0:
        raise BenchUsageError(f"--rounds must be at least 2, --warmup and --overhead-steps at least 0; got "
                              f"{args.rounds}, {args.warmup}, {args.overhead_steps}")
    preset, device = _preset_and_device(args)
    out = args.results_dir_type(args.results_dir) / "reports"

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

    out = Path(args.out) if args.out else args.results_dir_type(None) / "reports"
    checks = full_check(device, eager_only=args.eager_only, say=lambda line: print(line, flush=True))
    context = dict(device=label, torch=torch.__version__, date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   command="ablate " + shlex.join(sys.argv[1:]))
    paths = write_full_check(checks, out, context)
    print(table(checks))
    failed = sum(check.status == "fail" for check in checks)
    print(f"{failed} failed, {sum(c.status.startswith('skipped') for c in checks)} skipped, "
          f"{sum(c.status == 'pass' for c in checks)} passed; wrote " + ", ".join(str(p) for p in paths))
    return 1 if failed else 0


def add_bench_commands(commands, results_dir_type) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.set_defaults(results_dir_type=results_dir_type)  # checked with the other input, inside the CLI's error handling
    common.add_argument("name", help="ablation name (see `ablate list`)")
    common.add_argument("--preset", default="tiny", metavar="NAME", help="model shape to measure (default: tiny)")
    common.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when visible, else cpu")
    common.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's; CPU timings "
                        "depend on it and on other load, and the report records it)")
    common.add_argument("--results-dir", metavar="DIR",
                        help="reports go to DIR/reports/NAME/ (default: $ABLATE_RESULTS or ./ablate-results)")
    profile = commands.add_parser(
        "profile", parents=[common], help="share of FLOPs vs share of runtime per operator class (Ivanov et al. 2021)",
        description="Profiles a few training steps of every variant with torch.profiler and writes op_profile-PRESET.md, "
        ".csv and .png: per operator class (contraction, normalisation, softmax, element-wise), its share of the "
        "step's FLOPs and of its runtime.")
    profile.set_defaults(func=cmd_profile)
    decode = commands.add_parser(
        "decode-bench", parents=[common], help="decoded tokens/s through the KV cache per variant, batch size and context",
        description="Prefills a random prompt, then times single-token decoding through the KV cache for every "
        "variant at each batch size and context; writes decode-PRESET.md, .csv and .png with the KV-cache size of each.")
    decode.add_argument("--batch-sizes", default="1,8,32", metavar="B,B", help="default: 1,8,32")
    decode.add_argument("--contexts", default="256,1024", metavar="T,T", help="prompt + decoded tokens (default: 256,1024)")
    decode.add_argument("--new-tokens", type=int, default=32, metavar="N", help="tokens decoded and timed (default: 32)")
    decode.add_argument("--repeats", type=int, default=5, metavar="N", help="timed repeats after one warm-up; the "
                        "median is reported (default: 5)")
    decode.add_argument("--dtype", choices=DTYPES, help="default: bfloat16 on cuda, float32 on cpu")
    decode.set_defaults(func=cmd_decode_bench)
    speed = commands.add_parser(
        "speed", parents=[common], help="paired benchmark of training-step time per variant (speed verdicts use it)",
        description="Builds every variant's model and optimiser in one process and times full training steps "
        "(forward, backward, clipping, AdamW) on one fixed batch, the variants in turn after warm-up. Writes "
        "speed-PRESET-DEVICE.csv and .md; reports judge speed claims from these files, per device.")
    speed.add_argument("--variants", metavar="A,B", help="subset of the variants (default: all; the baseline is always timed)")
    speed.add_argument("--rounds", type=int, default=30, metavar="N", help="timed rounds, each timing every variant once (30)")
    speed.add_argument("--warmup", type=int, default=5, metavar="N", help="untimed rounds first (5)")
    speed.add_argument("--compile", action="store_true", help="time torch.compile'd models (fused kernels where supported)")
    speed.set_defaults(func=cmd_speed)
    peers = commands.add_parser(
        "bench-peers", help="our model vs x-transformers and litgpt, and our Lightning loop vs a bare one",
        description="Times one training step (forward, backward, clipping, AdamW) of our model against x-transformers "
        "and litgpt at matched GPT-2-style and Llama-style configs, interleaved, and (on CPU) our full Lightning run "
        "against a bare PyTorch loop over the same model and batches. Writes reports/performance.md and its CSVs. "
        "The peers are the `peers` extra (pip install -e \".[peers]\"; or x-transformers, then litgpt --no-deps "
        "beside the dev extra, whose transformers pins a newer huggingface-hub than litgpt allows).")
    peers.set_defaults(results_dir_type=results_dir_type)
    peers.add_argument("--preset", default="tiny", metavar="NAME", help="shapes to measure (default: tiny)")
    peers.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when visible, else cpu")
    peers.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's)")
    peers.add_argument("--rounds", type=int, default=30, metavar="N", help="timed rounds per pair (30)")
    peers.add_argument("--warmup", type=int, default=5, metavar="N", help="untimed rounds first (5)")
    peers.add_argument("--compile", action="store_true", help="time torch.compile'd models, ours and the peers'")
    peers.add_argument("--overhead-steps", type=int, default=300, metavar="N",
                       help="steps per arm of the Lightning-vs-bare-loop comparison, CPU only; 0 skips it (300)")
    peers.add_argument("--overhead-repeats", type=int, default=4, metavar="N", help="alternating repeats of it (4)")
    peers.add_argument("--results-dir", metavar="DIR",
                       help="writes DIR/reports/performance.md (default: $ABLATE_RESULTS or ./ablate-results)")
    peers.set_defaults(func=cmd_bench_peers)
    doctor = commands.add_parser(
        "doctor", help="check this machine first: every variant axis in bf16, eager and compiled; then tokens/s, MFU",
        description="One training step of every variant axis (packed into five small models) in bf16 autocast and "
        "float32, eager and torch.compile'd: finite losses and gradients, bf16 within 0.05 nats of float32; on a GPU, "
        "plain attention on a fused SDPA kernel and compiled windows/soft-caps/biases on FlexAttention. Then the "
        "preset's tokens/s and MFU. Exit code 1 when any check fails.")
    doctor.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when visible, else cpu")
    doctor.add_argument("--preset", default="small", metavar="NAME", help="shape of the throughput check (small)")
    doctor.add_argument("--eager-only", action="store_true", help="skip torch.compile (quicker; no fused-path check)")
    doctor.add_argument("--full", action="store_true", help="the whole node check (about 8 minutes on one GPU): axes "
                        "and kernels, step time, tokens/s and MFU at small and base against the peers, host syncs per "
                        "step, peak memory and the largest batch, a real `ablate run` and `ablate report`, a DDP step; "
                        "one table, also written as doctor-DEVICE.md and .csv. With --device cpu: a dry run at smoke "
                        "and tiny shapes, no compiling, CUDA-only checks skipped (well under a minute)")
    doctor.add_argument("--out", metavar="DIR", help="where --full writes its table (default: the performance "
                        "report's folder, $ABLATE_RESULTS/reports or ./ablate-results/reports)")
    doctor.set_defaults(func=cmd_doctor, results_dir_type=results_dir_type)
