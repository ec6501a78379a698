"""`ablate run`: resolve and check every run before any job exists, dispatch them, then under --seeds auto the
second stage; `ablate ladder` sends the same through several presets at once."""

from __future__ import annotations

import argparse
import dataclasses
import signal

from ablations.catalogue import get_ablation
from ablations.data.corpus import Corpus, CorpusError, default_corpus, load_corpus, tokens_per_byte
from ablations.data.tokenizer import BYTES
from ablations.declare.flag_kinds import UsageError
from ablations.declare.names import UnknownName
from ablations.declare.presets import Preset, get_preset
from ablations.jobs.executors import EXECUTORS, Executor
from ablations.runs.resolve import Design, resolve
from ablations.runs.run_record import ablation_dir, logs_dir
from ablations.runs.run_spec import RunSpec


def _seeds(args: argparse.Namespace, pilot: int) -> int:
    """--seeds N, or the ablation's pilot under --seeds auto (its second stage comes once the pilot is done)."""
    return pilot if args.seeds in (None, "auto") else args.seeds


def plan(args: argparse.Namespace) -> list[RunSpec]:
    """Resolve and validate everything before any job exists: the pilot's runs (or --seeds N of each)."""
    design = _design(args, args.preset)
    specs = specs_at(args, design, _corpus(args, design.context))
    _check_repeats(specs, get_preset(args.preset), args.allow_repeats)
    return specs


def _design(args: argparse.Namespace, preset: str) -> Design:
    try:
        return resolve(get_ablation(args.name), preset, args.variants, args.lrs, args.tokenizer, args.compile)
    except (UnknownName, ValueError) as error:
        raise UsageError(str(error)) from None


def _corpus(args: argparse.Namespace, context: int) -> Corpus:
    try:
        corpus, notice = (load_corpus(args.data, context), "") if args.data else default_corpus(context)
    except CorpusError as error:
        raise UsageError(str(error)) from None
    if notice:
        print(notice)
    print(f"corpus: {corpus.name}, {corpus.n_tokens:,} bytes, sha256 {corpus.sha256[:12]}")
    return corpus


def specs_at(args: argparse.Namespace, design: Design, corpus: Corpus) -> list[RunSpec]:
    """The pilot's runs (or --seeds N of each) of a resolved design, on a loaded corpus."""
    first = design.ablation.first_seed
    specs = design.specs(corpus, range(first, first + _seeds(args, design.ablation.seeds)), str(args.results_dir.resolve()))
    for name, tokenized in sorted({spec.corpus.tokenizer: spec.corpus for spec in specs}.items()):
        if name != BYTES:
            print(f"tokenizer {name}: {tokens_per_byte(tokenized, 'val'):.3f} tokens per validation byte "
                  f"(trained on the training split, cached)")
    return [dataclasses.replace(spec, wandb=True) for spec in specs] if args.wandb else specs


def _check_repeats(specs: list[RunSpec], preset: Preset, allowed: bool) -> None:
    """A run that reads its training split more than once is a repeated-corpus experiment: said up front, and
    refused past what the preset is meant for unless --allow-repeats asks for it."""
    most = max(specs, key=lambda spec: spec.passes)
    passes = most.passes
    if passes <= 1:
        return
    what = (f"runs read the training split up to {passes:.1f} times ({most.variant}: {most.train.steps:,} steps × "
            f"{most.train.batch_size} × {most.model.context} tokens)")
    if preset.max_passes is not None and passes > preset.max_passes and not allowed:
        raise UsageError(f"--preset {preset.name}: {what}, past the {preset.max_passes:g} pass(es) it is meant for: "
                         "repeated data, not single-pass pre-training; give --data a larger corpus (ablate prepare makes "
                         "one ready), or --allow-repeats to train on repeated data anyway")
    print(f"note: {what}: repeated data, not single-pass pre-training; each summary records its passes (a larger --data "
          "reads it less)")


def _second_stage(args: argparse.Namespace, pilot: list[RunSpec]) -> list[RunSpec]:
    """--seeds auto: once every pilot run is done, the claim variants' further seeds (Stein 1945)."""
    from ablations.judge.analysis import load_runs
    from ablations.judge.planning import second_stage

    if not all(spec.record.is_done for spec in pilot):
        print("--seeds auto: the second stage is planned from the finished pilot; run the same command again then")
        return []
    ablation, first = get_ablation(args.name), pilot[0]
    runs = load_runs(first.results_dir, args.name)
    mine = (runs["preset"] == first.preset) & (runs["corpus_label"] == first.corpus.label) & (runs["design"] == first.design)
    runs = runs[mine]
    n0, start = len({spec.seed for spec in pilot}), ablation.first_seed
    most = args.max_seeds or ablation.max_seeds
    wanted = second_stage(runs, ablation, n0, most)
    kinds = {(spec.variant, spec.train.lr): spec for spec in pilot}  # as resolved for the pilot: not again
    extra = [dataclasses.replace(spec, seed=seed) for key, spec in kinds.items()
             for seed in range(start + n0, start + wanted.get(key, n0))]
    for spec in sorted({(s.variant, s.train.lr) for s in extra}):
        print(f"--seeds auto: {spec[0]} at lr {spec[1]:g}: {wanted[spec]} seeds in all (Stein's second stage; "
              f"cap {most})")
    return extra


class RunsStopped(Exception):
    """`ablate run` stopped by a signal: the message says what was kept."""


def _kept(specs: list[RunSpec], stop: KeyboardInterrupt, executor: Executor) -> str:
    """What a stopped `ablate run` leaves: finished runs, and runs that resume from a checkpoint."""
    if executor.cluster:
        return (f"stopped watching {how(stop)}; the {executor.label or executor.name} jobs go on "
                f"(ablate status {specs[0].ablation}; "
                f"ablate cancel {specs[0].ablation} stops them)")
    done = sum(spec.record.is_done for spec in specs)
    resumable = sum(not spec.record.is_done and spec.record.checkpoint.exists() for spec in specs)
    return (f"stopped {how(stop)}; no training is left running; {done} of {len(specs)} run(s) finished and kept, "
            f"{resumable} resume from their last checkpoint")


def cmd_run(args: argparse.Namespace) -> int:
    return run_specs(args, [plan(args)])


def run_specs(args: argparse.Namespace, pilots: list[list[RunSpec]]) -> int:
    """Dispatch pilots (one per preset) together, then under --seeds auto each one's second stage."""
    specs = [spec for pilot in pilots for spec in pilot]
    executor = EXECUTORS[args.executor].from_args(args)
    from ablations.jobs.dispatch import dispatch  # imports Lightning (seconds): only once the input is valid

    root, logs = ablation_dir(specs[0].results_dir, args.name), logs_dir(specs[0].results_dir, args.name)
    try:
        progress = dispatch(specs, executor, logs, force=args.force)
        if args.seeds == "auto" and (extra := [s for pilot in pilots for s in _second_stage(args, pilot)]):
            second = dispatch(extra, executor, logs)
            progress.failed += second.failed
    except KeyboardInterrupt as stop:
        raise RunsStopped(_kept(specs, stop, executor)) from None
    if not executor.watch:
        print(f"follow with: ablate status {args.name}; stop with: ablate cancel {args.name}")
    else:
        print(f"results in {root}; next: ablate report {args.name}")
    return 1 if progress.failed else 0


class Stopped(KeyboardInterrupt):
    """A stop signal other than Ctrl-C (kill, a closed terminal): handled like Ctrl-C, so running jobs are cancelled."""


def how(stop: KeyboardInterrupt) -> str:
    return f"by {stop.args[0]}" if isinstance(stop, Stopped) else "by Ctrl-C"


def stop_on_signal(signum, frame):
    raise Stopped(signal.Signals(signum).name)
